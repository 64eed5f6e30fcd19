using Kirisame.Broker;
using Kirisame.Broker.Admin;
using Kirisame.Broker.Tenants;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Kirisame.Management.Api;

/// `?tenant=NAME` on the clients, sessions, subscriptions, retained and topics pages and their actions, and on
/// POST /publish (docs/adr/0021-tenants.md): the broker they read and change is that tenant's core; without it, the default
/// tenant's. A name that is no tenant is answered 404 before the endpoint runs. Each tenant is a core of its own, so
/// the pages need no change: their admin surface argument (the default tenant's, from the services) is swapped for
/// that core's by a filter. Not a scoped service: a request's scope disposes what its factories return, and the
/// admin surface is the broker itself.
internal static class TenantScope
{
    public const string Parameter = "tenant";

    /// Makes endpoints answer for the tenant the query names.
    public static TBuilder For<TBuilder>(TBuilder endpoints) where TBuilder : IEndpointConventionBuilder
    {
        endpoints.AddEndpointFilter(static async (invocation, next) =>
        {
            var http = invocation.HttpContext;
            if (http.Request.Query[Parameter].ToString() is not { Length: > 0 } name)
                return await next(invocation);
            var broker = http.RequestServices.GetRequiredService<MqttBroker>();
            if ((name == TenantDirectory.DefaultTenant ? broker : broker.Tenants?.Find(name)) is not { } core)
                return NoSuchTenant(broker, name);
            for (var i = 0; i < invocation.Arguments.Count; i++)
            {
                if (invocation.Arguments[i] is IBrokerAdmin)
                    invocation.Arguments[i] = core.Admin;
                else if (invocation.Arguments[i] is MqttBroker)
                    invocation.Arguments[i] = core; // POST /publish: the in-process publisher connects to the tenant
            }

            return await next(invocation);
        });
        return endpoints;
    }

    public static IResult NoSuchTenant(MqttBroker broker, string name) =>
        Problems.NotFound(broker.Tenants is null ? $"No tenant '{name}': tenants are not enabled (set Tenants:File or Tenants:Enabled true)." : $"No tenant '{name}'.");
}

using System.Net;
using System.Security.Cryptography;
using System.Text;
using Kirisame.Broker.Security;
using Kirisame.Protocol;

namespace Kirisame.Server.Authentication;

/// The "Http" authentication source: POSTs clientid, username, password, peerhost (the client's IP), listener and
/// protocol and tenant (the one the client was mapped to, "default" without tenants) to Authentication:Http:Url;
/// "allow" admits, "deny" refuses, "ignore" asks the next source. An "allow" answer with a "tenant" serves the client
/// in that tenant (docs/adr/0021-tenants.md). A failed call refuses (fail closed) unless OnFailure is Ignore.
///
/// Answers are cached per (client id, user name, password, listener, IP) for CacheTtl; the cache key is an HMAC
/// under a per-process random key, so the cache holds no password.
internal sealed class HttpAuthenticationSource(HttpHook hook, Uri url, HookCache<string> cache) : IAuthenticationSource
{
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);

    public string Name => "http";

    public async ValueTask<SourceVerdict> DecideAsync(ConnectContext context, CancellationToken cancellationToken)
    {
        var password = context.Password is { } given ? Encoding.UTF8.GetString(given.Span) : null;
        var address = (context.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? context.RemoteEndPoint?.ToString();
        var key = CacheKey(context.ClientId, context.UserName, password, context.Listener + "\0" + context.Tenant, address);
        if (!cache.TryGet(key, TimeSpan.Zero, out var answer, out var tenant))
        {
            string detail;
            (answer, detail, tenant) = await hook.CallAsync(url, new Dictionary<string, string?>
            {
                ["clientid"] = context.ClientId,
                ["username"] = context.UserName,
                ["password"] = password,
                ["peerhost"] = address,
                ["listener"] = context.Listener,
                ["protocol"] = context.ProtocolVersion switch { ProtocolVersion.V500 => "5", ProtocolVersion.V311 => "4", _ => "3" },
                ["tenant"] = context.Tenant,
            });
            if (answer != HookAnswer.Failed)
                cache.Set(key, answer, hook.Options.CacheTtl, tenant);
            else
                return hook.Options.OnFailure == HookFailure.Ignore
                    ? SourceVerdict.Ignore(ReasonCode.NotAuthorized, "hook_failed", detail)
                    : SourceVerdict.Deny(ReasonCode.NotAuthorized, "hook_failed", detail);
        }

        return answer switch
        {
            HookAnswer.Allow => Allow(context, tenant),
            HookAnswer.Deny => SourceVerdict.Deny(ReasonCode.NotAuthorized, "hook_deny", "the HTTP hook answered deny"),
            _ => SourceVerdict.Ignore(ReasonCode.NotAuthorized, "hook_ignore", "the HTTP hook answered ignore"),
        };
    }

    private static SourceVerdict Allow(ConnectContext context, string? tenant)
    {
        if (tenant is not null)
            context.AssignedTenant = tenant;
        return SourceVerdict.Allow();
    }

    private string CacheKey(string clientId, string? userName, string? password, string listener, string? address)
    {
        var text = string.Join('\0', clientId, userName ?? "\u0001", password ?? "\u0001", listener, address ?? "");
        return Convert.ToBase64String(HMACSHA256.HashData(_cacheKey, Encoding.UTF8.GetBytes(text)));
    }
}

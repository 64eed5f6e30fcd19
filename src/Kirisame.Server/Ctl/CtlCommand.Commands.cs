using System.Globalization;
using System.Text.Json;

namespace Kirisame.Server.Ctl;

/// The commands of `kirisame ctl`: the words that name each, how many arguments follow, which options it
/// takes, the API call it makes and how its answer is printed.
internal static partial class CtlCommand
{
    private sealed record Command(string[] Words, int Arguments, string[] Options,
        Func<ManagementClient, Args, Task<ApiResponse>> Call, Action<TextWriter, JsonElement?> Print)
    {
        public Task<ApiResponse> Run(ManagementClient client, CtlArguments arguments) =>
            Call(client, new Args([.. arguments.Words.Skip(Words.Length)], arguments.Options));

        /// A problem with the arguments, or null.
        public string? Check(CtlArguments arguments)
        {
            var name = string.Join(' ', Words);
            foreach (var option in arguments.Options.Keys.Where(o => !Options.Contains(o)))
                return $"'{name}' does not take --{option}.";
            foreach (var number in new[] { "limit", "offset", "qos" })
            {
                if (arguments.Options.TryGetValue(number, out var text) && !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                    return $"--{number} must be a whole number (was '{text}').";
            }

            if (arguments.Options.TryGetValue("connected", out var connected) && connected is not ("true" or "false"))
                return $"--connected must be true or false (was '{connected}').";
            return null;
        }
    }

    /// The positional arguments after the command's words, and its options.
    private sealed record Args(string[] Values, IReadOnlyDictionary<string, string> Options)
    {
        public string this[int index] => Values[index];

        /// "?name=value&…" of the options that are given, under the API's parameter names.
        public string Query(params (string Option, string Parameter)[] map)
        {
            var parts = map.Where(m => Options.ContainsKey(m.Option))
                .Select(m => $"{m.Parameter}={Uri.EscapeDataString(Options[m.Option])}")
                .ToList();
            return parts.Count == 0 ? "" : "?" + string.Join('&', parts);
        }

        public int? Int(string option) => Options.TryGetValue(option, out var text) ? int.Parse(text, CultureInfo.InvariantCulture) : null;

        /// <paramref name="path"/> in the tenant --tenant names (docs/adr/0021-tenants.md), or as it is (the default tenant).
        public string InTenant(string path) =>
            Options.TryGetValue("tenant", out var tenant) ? $"{path}{(path.Contains('?', StringComparison.Ordinal) ? '&' : '?')}tenant={Uri.EscapeDataString(tenant)}" : path;
    }

    private static readonly string[] s_paging = ["limit", "offset"];

    private static readonly (string, string)[] s_pagingQuery = [("limit", "limit"), ("offset", "offset")];

    private static string Id(string clientId) => Uri.EscapeDataString(clientId);

    private static readonly (string, string)[] s_clientColumns =
        [("CLIENT ID", "clientId"), ("CONNECTED", "connected"), ("ADDRESS", "address"), ("LISTENER", "listener"), ("VERSION", "protocolVersion"), ("USER", "userName"), ("SINCE", "connectedSince")];

    private static readonly (string, string)[] s_sessionColumns =
        [("CLIENT ID", "clientId"), ("CONNECTED", "connected"), ("PENDING", "pendingMessages"), ("PENDING BYTES", "pendingBytes"), ("IN FLIGHT", "inflightMessages"),
            ("SUBSCRIPTIONS", "subscriptionCount"), ("EXPIRY S", "expiryInterval"), ("EXPIRES AT", "expiresAt"), ("DROPS", "drops")];

    private static readonly (string, string)[] s_subscriptionColumns =
        [("CLIENT ID", "clientId"), ("FILTER", "filter"), ("QOS", "qos"), ("NO LOCAL", "noLocal"), ("RETAIN AS PUBLISHED", "retainAsPublished"), ("RETAIN HANDLING", "retainHandling")];

    private static readonly (string, string)[] s_retainedColumns =
        [("TOPIC", "topic"), ("QOS", "qos"), ("BYTES", "payloadBytes"), ("EXPIRY S", "messageExpiryInterval"), ("PUBLISHER", "publisherClientId")];

    private static readonly (string, string)[] s_topicRateColumns = [("TOPIC", "topic"), ("MESSAGES/S", "messagesPerSecond")];

    private static readonly (string, string)[] s_listenerColumns = [("NAME", "name"), ("PROTOCOL", "protocol"), ("ADDRESS", "endPoint")];

    private static readonly (string, string)[] s_banColumns = [("ADDRESS", "address"), ("TENANT", "tenant"), ("UNTIL", "until")];

    private static readonly (string, string)[] s_tenantColumns =
        [("NAME", "name"), ("CLIENTS", "connected"), ("SESSIONS", "sessions"), ("RETAINED", "retainedMessages"), ("QUOTAS", "quotas")];

    private static readonly Command[] s_commands = Build();

    private static Command[] Build()
    {
        string[] clientFilters = ["id", "user-name", "address", "listener", "connected", "tenant", .. s_paging];
        string[] sessionFilters = ["id", "connected", "tenant", .. s_paging];
        string[] subscriptionFilters = ["client", "filter", "tenant", .. s_paging];
        string[] retainedFilters = ["filter", "tenant", .. s_paging];
        string[] tenant = ["tenant"];
        Func<ManagementClient, Args, Task<ApiResponse>> listClients = (c, a) =>
            c.GetAsync(a.InTenant("/api/v1/clients" + a.Query([("id", "id"), ("user-name", "user"), ("address", "address"), ("listener", "listener"), ("connected", "connected"), .. s_pagingQuery])));
        Func<ManagementClient, Args, Task<ApiResponse>> listSessions = (c, a) =>
            c.GetAsync(a.InTenant("/api/v1/sessions" + a.Query([("id", "id"), ("connected", "connected"), .. s_pagingQuery])));
        Func<ManagementClient, Args, Task<ApiResponse>> listSubscriptions = (c, a) =>
            c.GetAsync(a.InTenant("/api/v1/subscriptions" + a.Query([("client", "clientId"), ("filter", "filter"), .. s_pagingQuery])));
        Func<ManagementClient, Args, Task<ApiResponse>> listRetained = (c, a) =>
            c.GetAsync(a.InTenant("/api/v1/retained" + a.Query([("filter", "filter"), .. s_pagingQuery])));
        return
        [
            new(["status"], 0, tenant, (c, a) => c.GetAsync(a.InTenant("/api/v1/overview")), PrintStatus),
            new(["clients"], 0, clientFilters, listClients, Page(s_clientColumns)),
            new(["clients", "list"], 0, clientFilters, listClients, Page(s_clientColumns)),
            new(["clients", "show"], 1, tenant, (c, a) => c.GetAsync(a.InTenant($"/api/v1/clients/{Id(a[0])}")), PrintObject),
            new(["clients", "kick"], 1, tenant, (c, a) => c.PostAsync(a.InTenant($"/api/v1/clients/{Id(a[0])}/disconnect"), null), Done("disconnected")),
            new(["sessions"], 0, sessionFilters, listSessions, Page(s_sessionColumns)),
            new(["sessions", "list"], 0, sessionFilters, listSessions, Page(s_sessionColumns)),
            new(["sessions", "show"], 1, tenant, (c, a) => c.GetAsync(a.InTenant($"/api/v1/sessions/{Id(a[0])}")), PrintObject),
            new(["sessions", "delete"], 1, tenant, (c, a) => c.DeleteAsync(a.InTenant($"/api/v1/sessions/{Id(a[0])}")), Done("deleted")),
            new(["subscriptions"], 0, subscriptionFilters, listSubscriptions, Page(s_subscriptionColumns)),
            new(["subscriptions", "list"], 0, subscriptionFilters, listSubscriptions, Page(s_subscriptionColumns)),
            new(["subscriptions", "add"], 2, ["qos"], (c, a) => c.PostAsync($"/api/v1/sessions/{Id(a[0])}/subscriptions", new { filter = a[1], qos = a.Int("qos") ?? 0 }), PrintObject),
            new(["subscriptions", "remove"], 2, [], (c, a) => c.DeleteAsync($"/api/v1/sessions/{Id(a[0])}/subscriptions?filter={Uri.EscapeDataString(a[1])}"), Done("removed")),
            new(["retained"], 0, retainedFilters, listRetained, Page(s_retainedColumns)),
            new(["retained", "list"], 0, retainedFilters, listRetained, Page(s_retainedColumns)),
            new(["retained", "show"], 1, tenant, (c, a) => c.GetAsync(a.InTenant($"/api/v1/retained/message?topic={Uri.EscapeDataString(a[0])}")), PrintObject),
            new(["retained", "delete"], 1, tenant, (c, a) => c.DeleteAsync(a.InTenant($"/api/v1/retained/message?topic={Uri.EscapeDataString(a[0])}")), Done("deleted")),
            new(["topics"], 0, ["filter", "tenant", .. s_paging], (c, a) => c.GetAsync(a.InTenant("/api/v1/topics/rates" + a.Query([("filter", "filter"), .. s_pagingQuery]))),
                PrintTopicRates),
            new(["publish"], 2, ["qos", "retain"], (c, a) => c.PostAsync("/api/v1/publish",
                new { topic = a[0], payload = a[1], qos = a.Int("qos") ?? 0, retain = a.Options.ContainsKey("retain") }), PrintObject),
            new(["listeners"], 0, [], (c, _) => c.GetAsync("/api/v1/listeners"), List(s_listenerColumns)),
            new(["listeners", "add"], 2, ["protocol", "bind", "certificate", "key", "security-of"], (c, a) => c.PostAsync("/api/v1/listeners", new
            {
                name = a[0], port = int.TryParse(a[1], NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? port : -1,
                protocol = a.Options.GetValueOrDefault("protocol"), bindAddress = a.Options.GetValueOrDefault("bind"),
                certificate = Full(a.Options.GetValueOrDefault("certificate")), privateKey = Full(a.Options.GetValueOrDefault("key")),
                securityOf = a.Options.GetValueOrDefault("security-of"),
            }), Done("added")),
            new(["listeners", "stop"], 1, [], (c, a) => c.DeleteAsync($"/api/v1/listeners/{Id(a[0])}"), Done("stopped")),
            new(["listeners", "tls"], 2, ["key"], (c, a) => c.PutAsync($"/api/v1/listeners/{Id(a[0])}/tls",
                new { certificate = Full(a[1]), privateKey = Full(a.Options.GetValueOrDefault("key")) }), Done("changed")),
            new(["users"], 0, [], (c, _) => c.GetAsync("/api/v1/security/users"), Lines),
            new(["users", "list"], 0, [], (c, _) => c.GetAsync("/api/v1/security/users"), Lines),
            new(["users", "add"], 2, [], (c, a) => c.PostAsync("/api/v1/security/users", new { userName = a[0], password = a[1] }), Done("added")),
            new(["users", "passwd"], 2, [], (c, a) => c.PutAsync($"/api/v1/security/users/{Id(a[0])}/password", new { password = a[1] }), Done("changed")),
            new(["users", "delete"], 1, [], (c, a) => c.DeleteAsync($"/api/v1/security/users/{Id(a[0])}"), Done("deleted")),
            new(["acl", "reload"], 0, [], (c, _) => c.PostAsync("/api/v1/security/acl/reload", null), Done("reloaded")),
            new(["bans"], 0, [], (c, _) => c.GetAsync("/api/v1/security/bans"), List(s_banColumns)),
            new(["bans", "list"], 0, [], (c, _) => c.GetAsync("/api/v1/security/bans"), List(s_banColumns)),
            new(["bans", "lift"], 1, tenant, (c, a) => c.DeleteAsync(a.InTenant($"/api/v1/security/bans/{Id(a[0])}")), Done("lifted")),
            new(["tenants"], 0, [], (c, _) => c.GetAsync("/api/v1/tenants"), PrintTenants),
            new(["tenants", "list"], 0, [], (c, _) => c.GetAsync("/api/v1/tenants"), PrintTenants),
            new(["log-level"], 0, [], (c, _) => c.GetAsync("/api/v1/logging"), PrintObject),
            new(["log-level"], 1, ["category"], (c, a) => c.PutAsync("/api/v1/logging",
                new { level = a[0], category = a.Options.GetValueOrDefault("category") }), PrintObject),
            new(["configuration"], 0, [], (c, _) => c.GetAsync("/api/v1/configuration"), (o, body) => o.WriteLine(JsonSerializer.Serialize(body, s_indented))),
        ];
    }

    /// A file named on the command line, as the server (which may run in another directory) must open it.
    private static string? Full(string? path) => path is null ? null : Path.GetFullPath(path);

    /// The command whose words start <paramref name="words"/> and whose argument count matches the rest.
    private static Command? Find(List<string> words) =>
        s_commands.Where(c => words.Count == c.Words.Length + c.Arguments && words.Take(c.Words.Length).SequenceEqual(c.Words))
            .MaxBy(c => c.Words.Length);

    private static Action<TextWriter, JsonElement?> Page((string, string)[] columns) => (output, body) =>
    {
        if (body is not { } page)
            return;
        TableWriter.Table(output, page.GetProperty("items"), columns);
        var total = page.GetProperty("total").GetInt32();
        var shown = page.GetProperty("items").GetArrayLength();
        if (shown < total)
            output.WriteLine($"({shown} of {total} from {page.GetProperty("offset").GetInt32()}; --offset and --limit show others)");
    };

    /// The rates page, and how they were taken: a sampled figure is an estimate.
    private static void PrintTopicRates(TextWriter output, JsonElement? body)
    {
        if (body is not { } rates)
            return;
        Page(s_topicRateColumns)(output, rates.GetProperty("topics"));
        var interval = rates.GetProperty("sampleInterval").GetInt32();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"(over {rates.GetProperty("windowSeconds").GetDouble():0.#} s; {(interval == 1 ? "every message counted" : $"one message in {interval} sampled")}; untracked topics {rates.GetProperty("untrackedPerSecond").GetDouble():0.##}/s)"));
    }

    /// The tenants with their counts; QUOTAS lists only the quotas that are set ("-" for none).
    private static void PrintTenants(TextWriter output, JsonElement? body)
    {
        if (body is not { } tenants)
            return;
        var rows = System.Text.Json.Nodes.JsonNode.Parse(tenants.GetRawText())!.AsArray();
        foreach (var row in rows)
        {
            var quotas = row!["quotas"]?.AsObject().Where(q => q.Value is not null).Select(q => $"{q.Key}={q.Value!.ToJsonString()}").ToList() ?? [];
            row["quotas"] = quotas.Count == 0 ? null : string.Join(", ", quotas);
        }

        TableWriter.Table(output, JsonSerializer.SerializeToElement(rows), s_tenantColumns);
    }

    /// An answer that is a plain array of objects (not a page).
    private static Action<TextWriter, JsonElement?> List((string, string)[] columns) => (output, body) =>
    {
        if (body is { } items)
            TableWriter.Table(output, items, columns);
    };

    /// An answer that is an array of strings: one per line.
    private static void Lines(TextWriter output, JsonElement? body)
    {
        foreach (var item in body?.EnumerateArray() ?? default)
            output.WriteLine(item.GetString());
    }

    private static void PrintObject(TextWriter output, JsonElement? body)
    {
        if (body is { } element)
            TableWriter.Properties(output, element);
    }

    private static Action<TextWriter, JsonElement?> Done(string what) => (output, _) => output.WriteLine(what);

    private static void PrintStatus(TextWriter output, JsonElement? body)
    {
        if (body is not { } overview)
            return;
        var listeners = overview.GetProperty("listeners");
        foreach (var property in overview.EnumerateObject().Where(p => p.Name != "listeners"))
            output.WriteLine($"{property.Name}: {TableWriter.Format(property.Value)}");

        output.WriteLine("listeners:");
        foreach (var listener in listeners.EnumerateArray())
            output.WriteLine($"  {listener.GetProperty("name").GetString()} {listener.GetProperty("protocol").GetString()}://{listener.GetProperty("endPoint").GetString()}");
    }
}

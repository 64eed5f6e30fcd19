using System.Text.Json;
using Kirisame.Broker.Tenants;

namespace Kirisame.Server.Tenants;

/// One tenant as the tenants file (Tenants:File) or the management API describes it. Paths are absolute (the file's
/// relative ones are taken from the file's folder).
internal sealed record TenantEntry(string Name, string? PasswordFile, string? AclFile, bool AllowAnonymous, IReadOnlyList<string> ServerNames,
    TenantQuotas Quotas);

/// The tenants file: a JSON object of tenants by name, each with its password file, ACL file, anonymous policy,
/// TLS server names and quotas:
/// { "Tenants": { "acme": { "PasswordFile": "acme.passwd", "AclFile": "acme.acl", "ServerNames": ["acme.example.com"],
///   "Quotas": { "MaxConnections": 100, "MaxMessagesPerSecond": 500 } } } }
/// A file that does not parse, names a file that does not exist, or has an unknown key is refused whole (FormatException),
/// so that a typo keeps the tenants in force rather than removing them.
internal static class TenantsFile
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    // What Write produces: indented for a reader, quotas that are no limit left out (as a person would write it).
    private static readonly JsonSerializerOptions s_written = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    private sealed class Document
    {
        public Dictionary<string, Tenant> Tenants { get; set; } = [];
    }

    private sealed class Tenant
    {
        public string? PasswordFile { get; set; }

        public string? AclFile { get; set; }

        public bool AllowAnonymous { get; set; }

        public List<string> ServerNames { get; set; } = [];

        public TenantQuotas Quotas { get; set; } = TenantQuotas.None;
    }

    public static Func<string, IReadOnlyList<TenantEntry>> Parser(string path, string separator) => text => Parse(text, Path.GetDirectoryName(Path.GetFullPath(path))!, separator);

    public static IReadOnlyList<TenantEntry> Parse(string text, string folder, string separator)
    {
        Document document;
        try
        {
            document = JsonSerializer.Deserialize<Document>(text, s_json) ?? new Document();
        }
        catch (JsonException ex)
        {
            throw new FormatException($"not a valid tenants file at line {(ex.LineNumber ?? 0) + 1}: {ex.Message.Split(" Path:", 2)[0]}", ex);
        }

        var entries = new List<TenantEntry>();
        foreach (var (name, tenant) in document.Tenants)
            entries.Add(Check(name, tenant, folder, separator));
        return entries;
    }

    /// The tenants as a tenants file that <see cref="Parse"/> reads back (paths as they are: the API's are absolute).
    public static string Write(IEnumerable<TenantEntry> entries) =>
        JsonSerializer.Serialize(new Document
        {
            Tenants = entries.ToDictionary(e => e.Name, e => new Tenant
            {
                PasswordFile = e.PasswordFile, AclFile = e.AclFile, AllowAnonymous = e.AllowAnonymous, ServerNames = [.. e.ServerNames], Quotas = e.Quotas,
            }, StringComparer.Ordinal),
        }, s_written);

    private static TenantEntry Check(string name, Tenant tenant, string folder, string separator)
    {
        if (TenantDirectory.Invalid(name, separator) is { } invalid)
            throw new FormatException(invalid);
        return new TenantEntry(name, Existing(tenant.PasswordFile, folder, name, "PasswordFile"), Existing(tenant.AclFile, folder, name, "AclFile"),
            tenant.AllowAnonymous, tenant.ServerNames, tenant.Quotas ?? TenantQuotas.None) is var entry && CheckQuotas(entry.Quotas) is { } bad
            ? throw new FormatException($"tenant '{name}': {bad}")
            : entry;
    }

    /// A quota below zero (or a rate of zero or less) is a mistake, not "no limit" (which is leaving it out).
    public static string? CheckQuotas(TenantQuotas quotas) =>
        quotas.MaxConnections < 0 || quotas.MaxSessions < 0 || quotas.MaxQueuedBytes < 0 || quotas.MaxRetainedMessages < 0 || quotas.MaxRetainedBytes < 0
            ? "quotas must not be negative (leave one out for no limit)"
            : quotas.MaxMessagesPerSecond <= 0 ? "MaxMessagesPerSecond must be above 0 (leave it out for no limit)" : null;

    private static string? Existing(string? path, string folder, string tenant, string key)
    {
        if (path is null)
            return null;
        var full = Path.GetFullPath(path, folder);
        return File.Exists(full) ? full : throw new FormatException($"tenant '{tenant}': {key} '{path}' does not exist");
    }
}

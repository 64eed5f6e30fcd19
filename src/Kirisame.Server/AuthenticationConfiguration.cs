using Kirisame.Server.Authentication;
using Microsoft.Extensions.Configuration;

namespace Kirisame.Server;

/// The "Authentication" section: the order of the authentication sources (Sources: File, Jwt, Http; docs/adr/0018),
/// their settings (Jwt, Http), and SCRAM-SHA-256 users for MQTT 5 enhanced
/// authentication: "Authentication:Scram:Users:NAME" = PASSWORD. The passwords are hashed into SCRAM
/// credentials when the broker is built; only the hashes reach the broker. Deprecated (a warning at start):
/// `kirisame passwd --scram` puts SCRAM users in the password file, without plain-text passwords.
internal sealed class AuthenticationConfiguration
{
    public const string SectionName = "Authentication";

    private AuthenticationConfiguration(IReadOnlyList<KeyValuePair<string, string>> scramUsers) => ScramUsers = scramUsers;

    public static readonly string[] KnownSources = ["File", "Jwt", "Http"];

    /// The sources in the order they are asked; by default the password file alone (the behaviour before sources).
    public IReadOnlyList<string> Sources { get; private init; } = ["File"];

    /// True when the sources are anything but the file source alone.
    public bool Chained => Sources is not ["File"];

    public JwtOptions? Jwt { get; private init; }

    public HttpHookOptions? Http { get; private init; }

    /// Name → password, in configuration order. Configuration keys are case-insensitive, so "Alice" and
    /// "alice" are one entry; SCRAM itself compares the name a client sends exactly.
    public IReadOnlyList<KeyValuePair<string, string>> ScramUsers { get; }

    public static AuthenticationConfiguration Read(IConfiguration root, List<string> errors)
    {
        var users = new List<KeyValuePair<string, string>>();
        List<string>? sources = null;
        JwtOptions? jwt = null;
        HttpHookOptions? http = null;
        foreach (var child in root.GetSection(SectionName).GetChildren())
        {
            if (string.Equals(child.Key, "Sources", StringComparison.OrdinalIgnoreCase))
            {
                sources = ReadSources(child, errors);
                continue;
            }
            if (string.Equals(child.Key, "Jwt", StringComparison.OrdinalIgnoreCase))
            {
                jwt = ServerConfiguration.Bind<JwtOptions>(root, JwtOptions.SectionName, errors);
                errors.AddRange(jwt.Validate());
                continue;
            }
            if (string.Equals(child.Key, "Http", StringComparison.OrdinalIgnoreCase))
            {
                http = ServerConfiguration.Bind<HttpHookOptions>(root, HttpHookOptions.SectionName, errors);
                errors.AddRange(http.Validate());
                continue;
            }
            if (!string.Equals(child.Key, "Scram", StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"Unknown option {SectionName}:{child.Key}. Known keys in {SectionName}: Sources, Jwt, Http, Scram.");
                continue;
            }
            foreach (var scramChild in child.GetChildren())
            {
                if (!string.Equals(scramChild.Key, "Users", StringComparison.OrdinalIgnoreCase))
                {
                    errors.Add($"Unknown option {SectionName}:Scram:{scramChild.Key}. Known keys in {SectionName}:Scram: Users.");
                    continue;
                }
                foreach (var user in scramChild.GetChildren())
                {
                    var key = $"{SectionName}:Scram:Users:{user.Key}";
                    if (user.Key.Trim().Length == 0)
                        errors.Add($"{key} has an empty user name.");
                    else if (user.Value is null && user.GetChildren().Any())
                        errors.Add($"{key} must be a password, not a section.");
                    else if (string.IsNullOrEmpty(user.Value))
                        errors.Add($"{key} must not have an empty password.");
                    else
                        users.Add(new(user.Key, user.Value));
                }
            }
        }
        sources ??= ["File"];
        if (sources.Contains("Jwt") && jwt is null)
            errors.Add($"{SectionName}:Sources names Jwt but there is no {JwtOptions.SectionName} section (set e.g. {JwtOptions.SectionName}:JwksUrl).");
        if (sources.Contains("Http") && http?.Url is null)
            errors.Add($"{SectionName}:Sources names Http but {HttpHookOptions.SectionName}:Url is not set.");
        return new AuthenticationConfiguration(users) { Sources = sources, Jwt = jwt, Http = http };
    }

    /// "File,Jwt,Http" on the command line, or a list (Sources:0, Sources:1, …) in a JSON file.
    private static List<string> ReadSources(IConfigurationSection section, List<string> errors)
    {
        var names = section.Value is { } single
            ? single.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : section.GetChildren().Select(c => c.Value ?? "").ToArray();
        var sources = new List<string>();
        foreach (var name in names)
        {
            var known = KnownSources.FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
            if (known is null)
                errors.Add($"{SectionName}:Sources: unknown source '{name}'. Known sources: {string.Join(", ", KnownSources)}.");
            else if (sources.Contains(known))
                errors.Add($"{SectionName}:Sources names {known} twice.");
            else
                sources.Add(known);
        }
        if (names.Length == 0)
            errors.Add($"{SectionName}:Sources must name at least one of {string.Join(", ", KnownSources)}.");
        return sources;
    }
}

using Microsoft.Extensions.Configuration;

namespace Kirisame.Server;

/// The "Authentication" section. Today it holds only SCRAM-SHA-256 users for MQTT 5 enhanced
/// authentication: "Authentication:Scram:Users:NAME" = PASSWORD. The passwords are hashed into SCRAM
/// credentials when the broker is built; only the hashes reach the broker. Deprecated (a warning at start):
/// `kirisame passwd --scram` puts SCRAM users in the password file, without plain-text passwords.
internal sealed class AuthenticationConfiguration
{
    public const string SectionName = "Authentication";

    private AuthenticationConfiguration(IReadOnlyList<KeyValuePair<string, string>> scramUsers) => ScramUsers = scramUsers;

    /// Name → password, in configuration order. Configuration keys are case-insensitive, so "Alice" and
    /// "alice" are one entry; SCRAM itself compares the name a client sends exactly.
    public IReadOnlyList<KeyValuePair<string, string>> ScramUsers { get; }

    public static AuthenticationConfiguration Read(IConfiguration root, List<string> errors)
    {
        var users = new List<KeyValuePair<string, string>>();
        foreach (var child in root.GetSection(SectionName).GetChildren())
        {
            if (!string.Equals(child.Key, "Scram", StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"Unknown option {SectionName}:{child.Key}. Known keys in {SectionName}: Scram.");
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
        return new AuthenticationConfiguration(users);
    }
}

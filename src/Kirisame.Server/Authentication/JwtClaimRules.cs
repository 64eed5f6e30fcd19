using System.Text;
using System.Text.Json;
using Kirisame.Broker.Security;

namespace Kirisame.Server.Authentication;

/// The ACL claim of a JWT: {"pub": [filters], "sub": [filters], "all": [filters]} (EMQX's JWT ACL shape), filters
/// with %c and %u. Turned into Mosquitto ACL "pattern" lines and parsed by <see cref="AclFile"/>, so a claim means
/// exactly what the same lines in an ACL file mean (including: whatever is not granted is refused).
internal static class JwtClaimRules
{
    public static bool TryParse(JsonElement claim, out AclFile rules, out string error)
    {
        rules = null!;
        error = "";
        if (claim.ValueKind != JsonValueKind.Object)
        {
            error = "must be an object of \"pub\", \"sub\" and \"all\" lists";
            return false;
        }

        var text = new StringBuilder();
        foreach (var entry in claim.EnumerateObject())
        {
            var access = entry.Name switch
            {
                "pub" => "write",
                "sub" => "read",
                "all" => "readwrite",
                _ => null,
            };
            if (access is null || entry.Value.ValueKind != JsonValueKind.Array)
            {
                error = $"unknown key or not a list: '{entry.Name}' (expected pub, sub, all)";
                return false;
            }

            foreach (var filter in entry.Value.EnumerateArray())
            {
                // A line break would let a claim add lines of its own choosing.
                if (filter.ValueKind != JsonValueKind.String || filter.GetString() is not { Length: > 0 } value || value.AsSpan().IndexOfAny('\r', '\n') >= 0)
                {
                    error = $"'{entry.Name}' must list non-empty topic filters";
                    return false;
                }

                text.Append("pattern ").Append(access).Append(' ').Append(value).Append('\n');
            }
        }

        try
        {
            rules = AclFile.Parse(text.ToString());
            return true;
        }
        catch (FormatException ex)
        {
            error = ex.Message;
            return false;
        }
    }
}

/// A client's rules from its token's ACL claim; refusals are counted (source "jwt").
internal sealed class ClaimAuthorizer(AclFile rules) : IAuthorizer
{
    public bool CanPublish(string clientId, string? userName, string topic)
    {
        if (rules.CanPublish(clientId, userName, topic))
            return true;
        SecurityMetrics.AuthorizationRefused("jwt", "publish");
        return false;
    }

    public bool CanSubscribe(string clientId, string? userName, string filter)
    {
        if (rules.CanSubscribe(clientId, userName, filter))
            return true;
        SecurityMetrics.AuthorizationRefused("jwt", "subscribe");
        return false;
    }
}

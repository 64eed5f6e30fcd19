using Kirisame.Protocol.Topics;

namespace Kirisame.Broker.Security;

[Flags]
public enum AclAccess
{
    Deny = 0,
    Read = 1,
    Write = 2,
    ReadWrite = Read | Write,
}

/// An access control list in Mosquitto's acl_file format, so existing files work:
///
///   topic [read|write|readwrite|deny] FILTER   before any "user" line: rules for clients without a user name
///   user NAME                                  the "topic" lines that follow are NAME's
///   pattern [read|write|readwrite|deny] FILTER for everyone; %c is the client id, %u the user name
///
/// The access word is optional (readwrite). Everything not granted is refused. "deny" wins over any grant,
/// wherever it appears. Filters follow MQTT matching, so a leading wildcard does not match "$SYS/…"
/// [MQTT-4.7.2-1]: reading $SYS needs an explicit "topic read $SYS/#".
///
/// A subscription is allowed when some readable rule covers every topic the filter could match (a/# covers
/// a/+/b, a/b does not cover a/#), and no deny rule overlaps it. That is stricter than Mosquitto, which
/// re-checks each delivered message instead; here a subscription granted is a subscription fully readable.
public sealed class AclFile
{
    private readonly List<Rule> _anonymous;
    private readonly Dictionary<string, List<Rule>> _users;
    private readonly List<Rule> _patterns;

    private AclFile(List<Rule> anonymous, Dictionary<string, List<Rule>> users, List<Rule> patterns)
    {
        _anonymous = anonymous;
        _users = users;
        _patterns = patterns;
    }

    private readonly record struct Rule(AclAccess Access, string Filter, bool HasClientId, bool HasUserName);

    /// Throws FormatException naming the line for anything it cannot use.
    public static AclFile Parse(string text)
    {
        var anonymous = new List<Rule>();
        var users = new Dictionary<string, List<Rule>>(StringComparer.Ordinal);
        var patterns = new List<Rule>();
        var current = anonymous;
        var lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            var line = rawLine.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var (keyword, rest) = SplitWord(line);
            switch (keyword)
            {
                case "user":
                    if (rest.Length == 0)
                        throw new FormatException($"line {lineNumber}: 'user' needs a user name");
                    if (!users.TryGetValue(rest, out current!))
                        users[rest] = current = [];
                    break;
                case "topic":
                    current.Add(ParseRule(rest, lineNumber, isPattern: false));
                    break;
                case "pattern":
                    patterns.Add(ParseRule(rest, lineNumber, isPattern: true));
                    break;
                default:
                    throw new FormatException($"line {lineNumber}: expected 'user', 'topic' or 'pattern', found '{keyword}'");
            }
        }

        return new AclFile(anonymous, users, patterns);
    }

    private static Rule ParseRule(string rest, int lineNumber, bool isPattern)
    {
        var (word, filter) = SplitWord(rest);
        AclAccess access;
        switch (word)
        {
            case "read":
                access = AclAccess.Read;
                break;
            case "write":
                access = AclAccess.Write;
                break;
            case "readwrite":
                access = AclAccess.ReadWrite;
                break;
            case "deny":
                access = AclAccess.Deny;
                break;
            default:
                // No access word: the whole rest is the filter (Mosquitto's default is readwrite).
                access = AclAccess.ReadWrite;
                filter = rest;
                break;
        }

        if (filter.Length == 0)
            throw new FormatException($"line {lineNumber}: missing topic filter");
        // Substitution happens at check time, so validate the filter with placeholders standing in.
        var check = isPattern ? filter.Replace("%c", "c", StringComparison.Ordinal).Replace("%u", "u", StringComparison.Ordinal) : filter;
        if (TopicRules.ValidateTopicFilter(check) != Protocol.DecodeError.None)
            throw new FormatException($"line {lineNumber}: '{filter}' is not a valid topic filter");
        return new Rule(access, filter,
            isPattern && filter.Contains("%c", StringComparison.Ordinal),
            isPattern && filter.Contains("%u", StringComparison.Ordinal));
    }

    private static (string Word, string Remainder) SplitWord(string text)
    {
        var space = text.IndexOfAny([' ', '\t']);
        return space < 0 ? (text, "") : (text[..space], text[(space + 1)..].Trim());
    }

    public bool CanPublish(string clientId, string? userName, string topic) => Check(clientId, userName, topic, AclAccess.Write);

    public bool CanSubscribe(string clientId, string? userName, string filter)
    {
        // A shared subscription reads the topics of its inner filter.
        if (TopicRules.TryParseShared(filter, out _, out var inner))
            filter = inner;
        return Check(clientId, userName, filter, AclAccess.Read);
    }

    private bool Check(string clientId, string? userName, string topicOrFilter, AclAccess wanted)
    {
        var own = userName is null ? _anonymous : _users.GetValueOrDefault(userName);
        var granted = false;
        if (own is not null && Evaluate(own, clientId, userName, topicOrFilter, wanted, ref granted))
            return false;
        if (Evaluate(_patterns, clientId, userName, topicOrFilter, wanted, ref granted))
            return false;
        return granted;
    }

    /// Returns true when a deny rule applies; sets granted when a rule grants the access.
    private static bool Evaluate(List<Rule> rules, string clientId, string? userName, string topicOrFilter, AclAccess wanted, ref bool granted)
    {
        foreach (var rule in rules)
        {
            if (!TrySubstitute(rule, clientId, userName, out var filter))
                continue;
            if (rule.Access == AclAccess.Deny)
            {
                var applies = wanted == AclAccess.Write ? TopicRules.Matches(filter, topicOrFilter) : Overlaps(filter, topicOrFilter);
                if (applies)
                    return true;
            }
            else if (!granted && (rule.Access & wanted) != 0)
            {
                granted = wanted == AclAccess.Write ? TopicRules.Matches(filter, topicOrFilter) : Covers(filter, topicOrFilter);
            }
        }

        return false;
    }

    /// Fills in %c and %u. A rule is skipped when the value is missing (no user name) or contains a
    /// character that would change the filter's shape ('/', '+', '#'): a client must not be able to pick an
    /// id such as "#" and be granted everything.
    private static bool TrySubstitute(in Rule rule, string clientId, string? userName, out string filter)
    {
        filter = rule.Filter;
        if (rule.HasClientId)
        {
            if (!IsPlainLevel(clientId))
                return false;
            filter = filter.Replace("%c", clientId, StringComparison.Ordinal);
        }

        if (rule.HasUserName)
        {
            if (userName is null || !IsPlainLevel(userName))
                return false;
            filter = filter.Replace("%u", userName, StringComparison.Ordinal);
        }

        return true;
    }

    private static bool IsPlainLevel(string value) => value.Length > 0 && value.AsSpan().IndexOfAny('/', '+', '#') < 0;

    /// Does every topic that <paramref name="filter"/> matches also match <paramref name="rule"/>?
    internal static bool Covers(string rule, string filter)
    {
        var r = rule.Split('/');
        var f = filter.Split('/');
        for (var i = 0; i < r.Length; i++)
        {
            if (r[i] == "#")
                return i > 0 || !StartsWithDollarLevel(f[0]);
            if (i >= f.Length || f[i] == "#")
                return false;
            if (r[i] == "+")
            {
                if (i == 0 && StartsWithDollarLevel(f[0]))
                    return false;
                continue;
            }

            if (f[i] == "+" || r[i] != f[i])
                return false;
        }

        return f.Length == r.Length;
    }

    /// Is there a topic that both filters match?
    internal static bool Overlaps(string a, string b)
    {
        var x = a.Split('/');
        var y = b.Split('/');
        for (var i = 0; ; i++)
        {
            var xLevel = i < x.Length ? x[i] : null;
            var yLevel = i < y.Length ? y[i] : null;
            // A leading wildcard does not reach a "$…" level on the other side.
            var dollar = i == 0 && (StartsWithDollarLevel(x[0]) || StartsWithDollarLevel(y[0]));
            if (xLevel == "#" || yLevel == "#")
                return !dollar; // "#" also matches the parent level: a/# overlaps a
            if (xLevel is null || yLevel is null)
                return xLevel is null && yLevel is null;
            if (xLevel == "+" || yLevel == "+")
            {
                if (dollar)
                    return false;
                continue;
            }

            if (xLevel != yLevel)
                return false;
        }
    }

    private static bool StartsWithDollarLevel(string level) => level.StartsWith('$');
}

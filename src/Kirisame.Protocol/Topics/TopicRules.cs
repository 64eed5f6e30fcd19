namespace Kirisame.Protocol.Topics;

/// Topic names and filters (section 4.7) and shared subscriptions (section 4.8.2).
/// UTF-8 well-formedness is checked where strings are read; these are the structural rules.
public static class TopicRules
{
    public const string SharePrefix = "$share/";

    public static DecodeError ValidateTopicName(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty)
            return DecodeError.EmptyTopicName; // [MQTT-4.7.3-1]
        return utf8.IndexOfAny((byte)'+', (byte)'#') >= 0 ? DecodeError.WildcardInTopicName : DecodeError.None; // [MQTT-3.3.2-2]
    }

    public static DecodeError ValidateTopicName(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty)
            return DecodeError.EmptyTopicName;
        return name.IndexOfAny('+', '#') >= 0 ? DecodeError.WildcardInTopicName : DecodeError.None;
    }

    public static DecodeError ValidateTopicFilter(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty)
            return DecodeError.EmptyTopicFilter; // [MQTT-4.7.3-1]
        if (utf8.StartsWith("$share/"u8))
        {
            var rest = utf8["$share/".Length..];
            var slash = rest.IndexOf((byte)'/');
            // ShareName: at least one character, no '/', '+' or '#' [MQTT-4.8.2-1], [MQTT-4.8.2-2]; then a filter.
            if (slash <= 0 || rest[..slash].IndexOfAny((byte)'+', (byte)'#') >= 0 || slash == rest.Length - 1)
                return DecodeError.InvalidSharedSubscription;
            return ValidateFilterLevels(rest[(slash + 1)..]);
        }

        return ValidateFilterLevels(utf8);
    }

    public static DecodeError ValidateTopicFilter(string filter)
        => ValidateTopicFilter(System.Text.Encoding.UTF8.GetBytes(filter));

    /// '#' only as the whole last level [MQTT-4.7.1-1]; '+' only as a whole level [MQTT-4.7.1-2].
    private static DecodeError ValidateFilterLevels(ReadOnlySpan<byte> filter)
    {
        for (var i = 0; i < filter.Length; i++)
        {
            var c = filter[i];
            if (c == '#')
            {
                if (i != filter.Length - 1 || (i > 0 && filter[i - 1] != '/'))
                    return DecodeError.InvalidTopicFilter;
            }
            else if (c == '+')
            {
                if ((i > 0 && filter[i - 1] != '/') || (i < filter.Length - 1 && filter[i + 1] != '/'))
                    return DecodeError.InvalidTopicFilter;
            }
        }

        return DecodeError.None;
    }

    public static bool HasWildcard(ReadOnlySpan<char> filter) => filter.IndexOfAny('+', '#') >= 0;

    /// Splits "$share/{ShareName}/{filter}". False for a filter that is not a shared subscription.
    public static bool TryParseShared(string filter, out string shareName, out string topicFilter)
    {
        shareName = "";
        topicFilter = filter;
        if (!filter.StartsWith(SharePrefix, StringComparison.Ordinal))
            return false;
        var slash = filter.IndexOf('/', SharePrefix.Length);
        if (slash < 0)
            return false;
        shareName = filter[SharePrefix.Length..slash];
        topicFilter = filter[(slash + 1)..];
        return true;
    }

    /// Does <paramref name="filter"/> match <paramref name="topic"/>? Topics starting with '$' are not
    /// matched by a filter starting with a wildcard [MQTT-4.7.2-1]. The filter must not be a shared one.
    public static bool Matches(ReadOnlySpan<char> filter, ReadOnlySpan<char> topic)
    {
        if (!topic.IsEmpty && topic[0] == '$' && !filter.IsEmpty && (filter[0] == '+' || filter[0] == '#'))
            return false;
        var f = new TopicLevels(filter);
        var t = new TopicLevels(topic);
        while (f.MoveNext())
        {
            var level = f.Current;
            if (level.Length == 1 && level[0] == '#')
                return true; // also matches the parent level: "a/#" matches "a" [MQTT-4.7.1-2 note]
            if (!t.MoveNext())
                return false;
            if (level.Length == 1 && level[0] == '+')
                continue;
            if (!level.SequenceEqual(t.Current))
                return false;
        }

        return !t.MoveNext();
    }
}

/// The levels of a topic or filter, split on '/' without allocating. "a//b" has three levels, the middle empty;
/// "" has one empty level.
public ref struct TopicLevels(ReadOnlySpan<char> topic)
{
    private readonly ReadOnlySpan<char> _topic = topic;
    private int _next;
    private bool _done;

    public ReadOnlySpan<char> Current { get; private set; }

    public bool MoveNext()
    {
        if (_done)
            return false;
        var rest = _topic[_next..];
        var slash = rest.IndexOf('/');
        if (slash < 0)
        {
            Current = rest;
            _done = true;
        }
        else
        {
            Current = rest[..slash];
            _next += slash + 1;
        }

        return true;
    }

    public readonly TopicLevels GetEnumerator() => this;
}

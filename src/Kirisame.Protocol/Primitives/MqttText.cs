using System.Text;

namespace Kirisame.Protocol.Primitives;

/// Text cut to fit: a UTF-8 string field of a packet holds at most 65,535 bytes (section 1.5.4), and text that
/// echoes what a client sent (a user name in a refusal, a topic in a log line) must not grow with it.
public static class MqttText
{
    /// The most UTF-8 bytes a string field holds [MQTT-1.5.4-1].
    public const int MaxStringBytes = ushort.MaxValue;

    private const string Ellipsis = "…"; // 3 bytes in UTF-8

    /// <paramref name="value"/> when it takes at most <paramref name="maxBytes"/> UTF-8 bytes; otherwise its
    /// longest prefix that fits with "…" appended, cut between characters (never inside a surrogate pair).
    public static string Truncate(string value, int maxBytes = MaxStringBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, Encoding.UTF8.GetByteCount(Ellipsis));
        if (value.Length * 3 <= maxBytes || Encoding.UTF8.GetByteCount(value) <= maxBytes)
            return value; // a UTF-16 code unit takes at most 3 UTF-8 bytes
        var budget = maxBytes - Encoding.UTF8.GetByteCount(Ellipsis);
        var used = 0;
        var cut = 0;
        foreach (var rune in value.EnumerateRunes())
        {
            used += rune.Utf8SequenceLength; // a lone surrogate is replaced by U+FFFD, 3 bytes, as GetBytes does
            if (used > budget)
                break;
            cut += rune.Utf16SequenceLength;
        }

        return string.Concat(value.AsSpan(0, cut), Ellipsis);
    }

    /// Client-supplied text as it goes into a log line or a reason string: at most <paramref name="maxChars"/>
    /// UTF-16 characters, then "…" and the full length, so a flood of long fields cannot flood the log.
    public static string Quote(string? value, int maxChars = 100)
    {
        if (value is null)
            return "";
        if (value.Length <= maxChars)
            return value;
        var cut = char.IsHighSurrogate(value[maxChars - 1]) ? maxChars - 1 : maxChars;
        return string.Concat(value.AsSpan(0, cut), $"… ({value.Length} characters)");
    }
}

using System.Text;

namespace Kirisame.Protocol.Tests.Support;

/// Spells packet bytes by hand: integers are single bytes, strings are their raw UTF-8 bytes (no length
/// prefix: the vector writes that itself), byte arrays are copied. Nothing here knows MQTT.
public static class Wire
{
    public static byte[] Bytes(params object[] parts)
    {
        var bytes = new List<byte>();
        foreach (var part in parts)
        {
            switch (part)
            {
                case int i:
                    if (i is < 0 or > 0xFF)
                        throw new ArgumentOutOfRangeException(nameof(parts), i, "Not a byte.");
                    bytes.Add((byte)i);
                    break;
                case byte b:
                    bytes.Add(b);
                    break;
                case string s:
                    bytes.AddRange(Encoding.UTF8.GetBytes(s));
                    break;
                case byte[] array:
                    bytes.AddRange(array);
                    break;
                default:
                    throw new ArgumentException($"Cannot spell {part?.GetType().Name ?? "null"}.", nameof(parts));
            }
        }

        return [.. bytes];
    }

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);
}

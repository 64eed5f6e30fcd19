using System.Globalization;
using System.Text;
using Kirisame.Client;

namespace Kirisame.Server.PubSub;

/// How `kirisame sub` prints a message: the payload, "topic payload" with -v (a zero-length payload shows as
/// "(null)", as mosquitto_sub), or the -F format; then an end of line unless -N.
///
/// -F specifiers (mosquitto_sub(1)): %% %t %p %q %r %m %l %x %X %I %U %j, and MQTT 5's %C content-type, %R
/// response-topic, %D correlation-data, %E message-expiry-interval, %F payload-format-indicator, %P user properties
/// (name:value, space-separated); escapes \\ \0 \a \e \n \r \t \v; @@ a literal @. Not supported, refused as an
/// invalid format: field widths and flags (%10t, %-5l, %05l), %A topic alias, %S subscription identifier, %J, and
/// strftime's @X time specifiers.
internal sealed class OutputFormat
{
    private readonly string? _format;
    private readonly bool _verbose;
    private readonly bool _noEndOfLine;

    private OutputFormat(string? format, bool verbose, bool noEndOfLine) => (_format, _verbose, _noEndOfLine) = (format, verbose, noEndOfLine);

    /// Null (with an error) when the format has a specifier that is not supported.
    public static OutputFormat? Create(ClientArguments a, List<string> errors)
    {
        if (a.Format is { } format)
        {
            for (var i = 0; i < format.Length - 1; i++)
            {
                var marker = format[i];
                if (marker is not ('%' or '@' or '\\'))
                    continue;
                var next = format[++i];
                var known = marker switch
                {
                    '%' => "%tpqrmlxXIUjCRDEFP".Contains(next, StringComparison.Ordinal),
                    '@' => next == '@',
                    _ => "\\0aenrtv".Contains(next, StringComparison.Ordinal),
                };
                if (!known)
                {
                    errors.Add($"Invalid format specifier '{next}' (kirisame sub --help lists those supported).");
                    return null;
                }
            }
        }

        return new OutputFormat(a.Format, a.Verbose, a.NoEndOfLine);
    }

    public byte[] Render(MqttMessage message, DateTimeOffset received)
    {
        var output = new MemoryStream();
        if (_format is null)
        {
            if (_verbose)
            {
                Write(output, message.Topic + " ");
                if (message.Payload.IsEmpty)
                    Write(output, "(null)");
            }

            output.Write(message.Payload.Span);
        }
        else
            RenderFormat(output, message, received);

        if (!_noEndOfLine)
            output.WriteByte((byte)'\n');
        return output.ToArray();
    }

    private void RenderFormat(MemoryStream output, MqttMessage message, DateTimeOffset received)
    {
        var format = _format!;
        for (var i = 0; i < format.Length; i++)
        {
            var c = format[i];
            if (c is not ('%' or '@' or '\\') || i == format.Length - 1)
            {
                Write(output, c.ToString());
                continue;
            }

            var next = format[++i];
            if (c == '@')
                Write(output, "@");
            else if (c == '\\')
                output.WriteByte(next switch { '0' => 0, 'a' => 7, 'e' => 27, 'n' => 10, 'r' => 13, 't' => 9, 'v' => 11, _ => (byte)'\\' });
            else if (next == 'p')
                output.Write(message.Payload.Span);
            else
                Write(output, Specifier(next, message, received));
        }
    }

    private static string Specifier(char specifier, MqttMessage message, DateTimeOffset received)
    {
        var p = message.Properties;
        static string Text(ReadOnlyMemory<byte>? bytes) => bytes is { } b ? Encoding.UTF8.GetString(b.Span) : "";
        return specifier switch
        {
            '%' => "%",
            't' => message.Topic,
            'q' => ((int)message.QoS).ToString(CultureInfo.InvariantCulture),
            'r' => message.Retain ? "1" : "0",
            'm' => message.PacketId.ToString(CultureInfo.InvariantCulture),
            'l' => message.Payload.Length.ToString(CultureInfo.InvariantCulture),
            'x' => Convert.ToHexStringLower(message.Payload.Span),
            'X' => Convert.ToHexString(message.Payload.Span),
            // mosquitto_sub's forms: 2016-08-10T09:47:38+0100 and 1470818943.786368637.
            'I' => received.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture).Remove(22, 1),
            'U' => $"{received.ToUnixTimeSeconds()}.{received.Ticks % TimeSpan.TicksPerSecond * 100:D9}",
            'j' => Json(message, received),
            'C' => Text(p.ContentType),
            'R' => Text(p.ResponseTopic),
            'D' => Text(p.CorrelationData),
            'E' => p.MessageExpiryInterval?.ToString(CultureInfo.InvariantCulture) ?? "",
            'F' => p.PayloadFormatIndicator?.ToString(CultureInfo.InvariantCulture) ?? "",
            'P' => string.Join(' ', p.ToMqttProperties().UserProperties?.Select(u => $"{u.Name}:{u.Value}") ?? []),
            _ => "",
        };
    }

    /// %j: {"tst":…,"topic":…,"qos":…,"retain":…,"payloadlen":…,"payload":"…"} (MQTT 5 properties are not included).
    private static string Json(MqttMessage message, DateTimeOffset received)
    {
        var buffer = new MemoryStream();
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("tst", received.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
            json.WriteString("topic", message.Topic);
            json.WriteNumber("qos", (int)message.QoS);
            json.WriteNumber("retain", message.Retain ? 1 : 0);
            json.WriteNumber("payloadlen", message.Payload.Length);
            json.WriteString("payload", Encoding.UTF8.GetString(message.Payload.Span));
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Write(MemoryStream output, string text) => output.Write(Encoding.UTF8.GetBytes(text));
}

namespace Kirisame.Interop.Tests.Tracing;

/// A span as OTLP carries it, with only what the tests look at.
internal sealed record ExportedSpan(string TraceId, string SpanId, string ParentSpanId, string Name);

/// Reads the spans out of an OTLP/HTTP protobuf ExportTraceServiceRequest (opentelemetry-proto,
/// trace/v1/trace.proto): resource_spans = 1 → scope_spans = 2 → spans = 2; in a span trace_id = 1,
/// span_id = 2, parent_span_id = 4, name = 5. Only the protobuf wire format is needed, not generated code.
internal static class OtlpSpans
{
    public static List<ExportedSpan> Read(byte[] request)
    {
        var spans = new List<ExportedSpan>();
        foreach (var resourceSpans in Fields(request, 1))
        {
            foreach (var scopeSpans in Fields(resourceSpans, 2))
            {
                foreach (var span in Fields(scopeSpans, 2))
                {
                    spans.Add(new ExportedSpan(Hex(Fields(span, 1).FirstOrDefault()), Hex(Fields(span, 2).FirstOrDefault()),
                        Hex(Fields(span, 4).FirstOrDefault()), System.Text.Encoding.UTF8.GetString(Fields(span, 5).FirstOrDefault() ?? [])));
                }
            }
        }

        return spans;
    }

    private static string Hex(byte[]? bytes) => bytes is null ? "" : Convert.ToHexStringLower(bytes);

    /// The length-delimited fields numbered <paramref name="number"/> of one message; other fields are skipped.
    private static List<byte[]> Fields(byte[] message, int number)
    {
        var found = new List<byte[]>();
        var i = 0;
        while (i < message.Length)
        {
            var key = Varint(message, ref i);
            var wireType = (int)(key & 7);
            switch (wireType)
            {
                case 0:
                    Varint(message, ref i);
                    break;
                case 1:
                    i += 8;
                    break;
                case 5:
                    i += 4;
                    break;
                case 2:
                    var length = (int)Varint(message, ref i);
                    if ((int)(key >> 3) == number)
                        found.Add(message[i..(i + length)]);
                    i += length;
                    break;
                default:
                    throw new InvalidDataException($"protobuf wire type {wireType} at {i}");
            }
        }

        return found;
    }

    private static ulong Varint(byte[] data, ref int i)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = data[i++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
                return value;
        }
    }
}

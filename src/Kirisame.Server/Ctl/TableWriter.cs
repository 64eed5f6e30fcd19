using System.Globalization;
using System.Text.Json;

namespace Kirisame.Server.Ctl;

/// Plain-text output of `kirisame ctl`: aligned columns with a header, or "key: value" lines, from the API's
/// JSON (so the table shows exactly what --json would).
internal static class TableWriter
{
    /// One row per item of <paramref name="items"/>; each column is a header and the JSON property it shows.
    public static void Table(TextWriter output, JsonElement items, IReadOnlyList<(string Header, string Property)> columns)
    {
        var rows = new List<string[]> { columns.Select(c => c.Header).ToArray() };
        foreach (var item in items.EnumerateArray())
            rows.Add([.. columns.Select(c => Cell(item, c.Property))]);
        var widths = columns.Select((_, i) => rows.Max(r => r[i].Length)).ToArray();
        foreach (var row in rows)
            output.WriteLine(string.Join("  ", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]))).TrimEnd());
    }

    /// "key: value" for each property (nested objects flattened as parent.child).
    public static void Properties(TextWriter output, JsonElement element, string prefix = "")
    {
        foreach (var property in element.EnumerateObject())
        {
            var name = prefix + property.Name;
            if (property.Value.ValueKind == JsonValueKind.Object && property.Value.EnumerateObject().Any())
                Properties(output, property.Value, name + ".");
            else
                output.WriteLine($"{name}: {Format(property.Value)}");
        }
    }

    private static string Cell(JsonElement item, string property)
    {
        var value = item;
        foreach (var part in property.Split('.'))
        {
            if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty(part, out value))
                return "";
        }

        return Format(value);
    }

    public static string Format(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => "-",
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.True => "yes",
        JsonValueKind.False => "no",
        JsonValueKind.Array => string.Join(", ", value.EnumerateArray().Select(Format)),
        JsonValueKind.Object => string.Join(", ", value.EnumerateObject().Select(p => $"{p.Name}={Format(p.Value)}")),
        _ => value.GetRawText(),
    };

    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}

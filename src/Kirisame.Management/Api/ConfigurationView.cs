using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;

namespace Kirisame.Management.Api;

/// The effective configuration as JSON: every settable property of each options object (so defaults show,
/// not only what was written), passwords replaced by "***". Options objects are read, not serialized: their
/// computed properties (end points, flags) are not configuration, and an IP address does not serialize.
internal static class ConfigurationView
{
    public const string Redacted = "***";

    public static JsonObject Describe(IReadOnlyDictionary<string, object?> sections)
    {
        var result = new JsonObject();
        foreach (var (name, value) in sections.OrderBy(s => s.Key, StringComparer.Ordinal))
            result[name] = Node(value, redact: false);
        return result;
    }

    /// A password is never shown; a path to a file that holds one is (it is not a secret).
    internal static bool IsSecret(string propertyName) =>
        propertyName.EndsWith("Password", StringComparison.OrdinalIgnoreCase) || propertyName.Contains("Secret", StringComparison.OrdinalIgnoreCase);

    private static JsonNode? Node(object? value, bool redact)
    {
        if (value is null)
            return null;
        if (redact)
            return JsonValue.Create(Redacted);
        switch (value)
        {
            case string or bool or int or long or uint or ushort or double:
                return JsonValue.Create(value);
            case Enum or TimeSpan:
                return JsonValue.Create(Convert.ToString(value, CultureInfo.InvariantCulture));
            case IDictionary dictionary:
            {
                var entries = new JsonObject();
                foreach (DictionaryEntry entry in dictionary)
                    entries[Convert.ToString(entry.Key, CultureInfo.InvariantCulture)!] = Node(entry.Value, false);
                return entries;
            }
            case IEnumerable list:
            {
                var items = new JsonArray();
                foreach (var item in list)
                    items.Add(Node(item, false));
                return items;
            }
        }

        var type = value.GetType();
        if (type.IsPrimitive)
            return JsonValue.Create(Convert.ToString(value, CultureInfo.InvariantCulture));
        var properties = new JsonObject();
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanRead && p.GetIndexParameters().Length == 0 && p.SetMethod?.IsPublic == true))
            properties[property.Name] = Node(property.GetValue(value), IsSecret(property.Name) && property.GetValue(value) is not null);
        return properties;
    }
}

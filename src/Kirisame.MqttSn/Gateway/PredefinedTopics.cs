namespace Kirisame.MqttSn.Gateway;

/// Topic ids both sides know without REGISTER (MQTT-SN 1.2 §3.2.2, TopicIdType 1), from MqttSn:PredefinedTopics;
/// the same for every client. Read-only after start, so shared without a lock.
internal sealed class PredefinedTopics
{
    private readonly Dictionary<ushort, string> _names;
    private readonly Dictionary<string, ushort> _ids;

    public PredefinedTopics(IReadOnlyDictionary<ushort, string> names)
    {
        _names = new Dictionary<ushort, string>(names);
        _ids = new Dictionary<string, ushort>(StringComparer.Ordinal);
        // Two ids for one name: the lowest is used when delivering.
        foreach (var (id, name) in names.OrderBy(p => p.Key))
            _ids.TryAdd(name, id);
    }

    public string? NameOf(ushort id) => _names.GetValueOrDefault(id);

    public bool TryGetId(string name, out ushort id) => _ids.TryGetValue(name, out id);
}

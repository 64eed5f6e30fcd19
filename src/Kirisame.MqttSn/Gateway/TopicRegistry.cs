namespace Kirisame.MqttSn.Gateway;

/// One client's normal topic ids (MQTT-SN 1.2 §6.5, §6.10): ids the client asked for with REGISTER and ids the
/// gateway gave it with REGISTER before a PUBLISH, in one numbering for both directions. Bounded: a client cannot
/// make the gateway hold more than MaxTopicsPerClient names. Used under its client's lock.
internal sealed class TopicRegistry(int capacity)
{
    private readonly Dictionary<string, ushort> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<ushort, string> _names = [];
    private ushort _next = 1;

    public int Count => _ids.Count;

    public string? NameOf(ushort id) => _names.GetValueOrDefault(id);

    public bool TryGetId(string name, out ushort id) => _ids.TryGetValue(name, out id);

    /// The id of <paramref name="name"/>, registering it when new; false when the registry is full.
    public bool TryAdd(string name, out ushort id)
    {
        if (_ids.TryGetValue(name, out id))
            return true;
        if (_ids.Count >= capacity)
            return false;
        // 0x0000 and 0xFFFF are reserved (§5.3.11); skip ids still in use after a wrap.
        while (_next is 0 or 0xFFFF || _names.ContainsKey(_next))
            _next++;
        id = _next++;
        _ids[name] = id;
        _names[id] = name;
        return true;
    }

    /// Forgets a registration the client refused (a REGACK that was not "accepted").
    public void Remove(string name)
    {
        if (_ids.Remove(name, out var id))
            _names.Remove(id);
    }
}

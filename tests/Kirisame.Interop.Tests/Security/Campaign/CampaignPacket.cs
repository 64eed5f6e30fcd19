using System.Text;

namespace Kirisame.Interop.Tests.Security.Campaign;

/// An MQTT packet under construction: the parts are kept apart so that the campaign can add a property to a
/// v5 packet before it is encoded. Writes whatever it is given, lengths included: nothing here validates.
internal sealed class CampaignPacket(byte header, bool hasProperties)
{
    public byte Header { get; } = header;

    /// The variable header up to the properties (packet id, topic, flags…).
    public List<byte> Head { get; } = [];

    /// The v5 properties, without their length; null for v3.1.1 packets and for packets without them.
    public List<byte>? Properties { get; } = hasProperties ? [] : null;

    public List<byte> Payload { get; } = [];

    public byte[] Encode()
    {
        var body = new List<byte>(Head.Count + Payload.Count + (Properties?.Count ?? 0) + 4);
        body.AddRange(Head);
        if (Properties is not null)
        {
            WireBytes.AddVariableByteInteger(body, Properties.Count);
            body.AddRange(Properties);
        }

        body.AddRange(Payload);
        var packet = new List<byte>(body.Count + 5) { Header };
        WireBytes.AddVariableByteInteger(packet, body.Count);
        packet.AddRange(body);
        return [.. packet];
    }

    public static void AddUInt16(List<byte> buffer, int value)
    {
        buffer.Add((byte)(value >> 8));
        buffer.Add((byte)value);
    }

    /// A length-prefixed field; the prefix is the low 16 bits of the length, as a careless client would write it.
    public static void AddBinary(List<byte> buffer, byte[] value)
    {
        AddUInt16(buffer, value.Length);
        buffer.AddRange(value);
    }

    public static void AddString(List<byte> buffer, string value) => AddBinary(buffer, Encoding.UTF8.GetBytes(value));

    public void AddProperty(byte id, byte[] value, bool lengthPrefixed = true)
    {
        if (Properties is null)
            return;
        Properties.Add(id);
        if (lengthPrefixed)
            AddBinary(Properties, value);
        else
            Properties.AddRange(value);
    }

    public void AddUserProperty(byte[] key, byte[] value)
    {
        if (Properties is null)
            return;
        Properties.Add(0x26);
        AddBinary(Properties, key);
        AddBinary(Properties, value);
    }
}

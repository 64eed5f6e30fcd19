namespace Kirisame.MqttSn.Codec;

/// CONNECT (MQTT-SN 1.2 §5.4.4): Flags, ProtocolId (0x01), Duration (keep-alive seconds), ClientId.
internal readonly ref struct SnConnect
{
    public const byte ProtocolId = 0x01;

    public SnFlags Flags { get; init; }

    public byte Protocol { get; init; }

    public ushort Duration { get; init; }

    public string ClientId { get; init; }

    public static bool TryParse(ReadOnlySpan<byte> body, out SnConnect message)
    {
        var reader = new SnBodyReader(body);
        var flags = new SnFlags(reader.Byte());
        var protocol = reader.Byte();
        var duration = reader.UInt16();
        var clientId = reader.RestText();
        message = new SnConnect { Flags = flags, Protocol = protocol, Duration = duration, ClientId = clientId ?? "" };
        return reader.Ok;
    }
}

/// WILLTOPIC and WILLTOPICUPD (§5.4.7, §5.4.22): Flags (QoS, Retain) and the will topic; an empty message
/// (no flags, no topic) means "no will" / "delete the will".
internal readonly ref struct SnWillTopic
{
    public SnFlags Flags { get; init; }

    public string Topic { get; init; }

    public bool IsEmpty => Topic.Length == 0;

    public static bool TryParse(ReadOnlySpan<byte> body, out SnWillTopic message)
    {
        message = new SnWillTopic { Topic = "" };
        if (body.IsEmpty)
            return true;
        var reader = new SnBodyReader(body);
        var flags = new SnFlags(reader.Byte());
        var topic = reader.RestText();
        message = new SnWillTopic { Flags = flags, Topic = topic ?? "" };
        return reader.Ok;
    }
}

/// PINGREQ (§5.4.19): a sleeping client wakes with its ClientId; an active one sends none.
internal readonly ref struct SnPingReq
{
    public string? ClientId { get; init; }

    public static bool TryParse(ReadOnlySpan<byte> body, out SnPingReq message)
    {
        message = default;
        if (body.IsEmpty)
            return true;
        var reader = new SnBodyReader(body);
        message = new SnPingReq { ClientId = reader.RestText() };
        return reader.Ok;
    }
}

/// DISCONNECT (§5.4.21): with a Duration the client goes to sleep for that many seconds (§6.14).
internal readonly ref struct SnDisconnect
{
    public ushort? SleepDuration { get; init; }

    public static bool TryParse(ReadOnlySpan<byte> body, out SnDisconnect message)
    {
        message = default;
        if (body.IsEmpty)
            return true;
        if (body.Length != 2)
            return false;
        var reader = new SnBodyReader(body);
        message = new SnDisconnect { SleepDuration = reader.UInt16() };
        return true;
    }
}

using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Kirisame.Interop.Tests.MqttSn;

/// An MQTT-SN 1.2 client written for these tests from the specification, independent of the gateway's codec (no
/// MQTT-SN client is packaged in Debian or npm): it builds and reads the bytes itself, one UDP socket per client.
internal sealed class SnTestClient : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    // MsgType values, MQTT-SN 1.2 §5.2.2.
    public const byte Advertise = 0x00, SearchGw = 0x01, GwInfo = 0x02, Connect = 0x04, ConnAck = 0x05, WillTopicReq = 0x06,
        WillTopic = 0x07, WillMsgReq = 0x08, WillMsg = 0x09, Register = 0x0A, RegAck = 0x0B, Publish = 0x0C, PubAck = 0x0D,
        PubComp = 0x0E, PubRec = 0x0F, PubRel = 0x10, Subscribe = 0x12, SubAck = 0x13, Unsubscribe = 0x14, UnsubAck = 0x15,
        PingReq = 0x16, PingResp = 0x17, Disconnect = 0x18, WillTopicUpd = 0x1A, WillTopicResp = 0x1B, WillMsgUpd = 0x1C, WillMsgResp = 0x1D;

    // TopicIdType, §5.3.4.
    public const byte Normal = 0, Predefined = 1, Short = 2;

    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly IPEndPoint _gateway;
    private ushort _msgId;

    public SnTestClient(int gatewayPort)
    {
        _gateway = new IPEndPoint(IPAddress.Loopback, gatewayPort);
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
    }

    public int LocalPort => ((IPEndPoint)_socket.LocalEndPoint!).Port;

    /// Registered (or gateway-registered) topic ids by name.
    public Dictionary<ushort, string> Topics { get; } = [];

    public ushort NextMsgId() => ++_msgId;

    public static byte Flags(int qos = 0, bool retain = false, bool will = false, bool clean = true, byte topicIdType = Normal, bool dup = false) =>
        (byte)((dup ? 0x80 : 0) | ((qos < 0 ? 3 : qos) << 5) | (retain ? 0x10 : 0) | (will ? 0x08 : 0) | (clean ? 0x04 : 0) | topicIdType);

    /// A message with the one-byte length, or the three-byte form (0x01, length) when it does not fit or when asked.
    public static byte[] Frame(byte type, ReadOnlySpan<byte> body, bool longForm = false)
    {
        if (!longForm && body.Length + 2 <= 255)
            return [(byte)(body.Length + 2), type, .. body];
        var length = body.Length + 4;
        return [0x01, (byte)(length >> 8), (byte)length, type, .. body];
    }

    public static byte[] U16(ushort value) => [(byte)(value >> 8), (byte)value];

    public static byte[] Text(string text) => Encoding.UTF8.GetBytes(text);

    public void SendRaw(byte[] datagram) => _socket.SendTo(datagram, _gateway);

    public void Send(byte type, params byte[][] parts) => SendRaw(Frame(type, [.. parts.SelectMany(p => p)]));

    /// The next message as (type, body); the header is checked here, in either length form.
    public async Task<(byte Type, byte[] Body)> ReceiveAsync(TimeSpan? timeout = null)
    {
        var buffer = new byte[65_536];
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        var result = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        var datagram = buffer.AsSpan(0, result.ReceivedBytes);
        var (length, header) = datagram[0] == 0x01 ? (BinaryPrimitives.ReadUInt16BigEndian(datagram[1..]), 4) : (datagram[0], 2);
        Assert.Equal(result.ReceivedBytes, length);
        return (datagram[header - 1], datagram[header..].ToArray());
    }

    /// The next message, which must be of <paramref name="type"/>.
    public async Task<byte[]> ExpectAsync(byte type, TimeSpan? timeout = null)
    {
        var (actual, body) = await ReceiveAsync(timeout);
        Assert.True(actual == type, $"expected message type 0x{type:X2}, got 0x{actual:X2} ({Convert.ToHexString(body)})");
        return body;
    }

    /// Nothing arrives within <paramref name="quiet"/>.
    public async Task<bool> NothingAsync(TimeSpan quiet)
    {
        try
        {
            await ReceiveAsync(quiet);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    public async Task<byte> ConnectAsync(string clientId, ushort keepAlive = 60, bool clean = true,
        (string Topic, string Message, int QoS, bool Retain)? will = null)
    {
        Send(Connect, [Flags(will: will is not null, clean: clean), 0x01], U16(keepAlive), Text(clientId));
        if (will is { } w)
        {
            await ExpectAsync(WillTopicReq);
            Send(WillTopic, [Flags(w.QoS, w.Retain, clean: false)], Text(w.Topic));
            await ExpectAsync(WillMsgReq);
            Send(WillMsg, Text(w.Message));
        }
        return (await ExpectAsync(ConnAck))[0];
    }

    public async Task<ushort> RegisterAsync(string topic)
    {
        var msgId = NextMsgId();
        Send(Register, U16(0), U16(msgId), Text(topic));
        var ack = await ExpectAsync(RegAck);
        Assert.Equal(msgId, BinaryPrimitives.ReadUInt16BigEndian(ack.AsSpan(2)));
        Assert.Equal(0, ack[4]);
        var id = BinaryPrimitives.ReadUInt16BigEndian(ack);
        Topics[id] = topic;
        return id;
    }

    /// PUBLISH and, for QoS 1/2, its acknowledgement flow; returns the PUBACK's return code (0 for QoS 0/−1/2).
    public async Task<byte> PublishAsync(ushort topicId, string payload, int qos, byte topicIdType = Normal, bool retain = false, bool longForm = false)
    {
        var msgId = qos > 0 ? NextMsgId() : (ushort)0;
        SendRaw(Frame(Publish, [Flags(qos, retain, clean: false, topicIdType: topicIdType), .. U16(topicId), .. U16(msgId), .. Text(payload)], longForm));
        switch (qos)
        {
            case 1:
                var ack = await ExpectAsync(PubAck);
                Assert.Equal(msgId, BinaryPrimitives.ReadUInt16BigEndian(ack.AsSpan(2)));
                return ack[4];
            case 2:
                Assert.Equal(msgId, BinaryPrimitives.ReadUInt16BigEndian(await ExpectAsync(PubRec)));
                Send(PubRel, U16(msgId));
                Assert.Equal(msgId, BinaryPrimitives.ReadUInt16BigEndian(await ExpectAsync(PubComp)));
                return 0;
            default:
                return 0;
        }
    }

    /// SUBSCRIBE by name, predefined id or short name; returns the SUBACK (flags, topic id, return code).
    public async Task<(byte Flags, ushort TopicId, byte ReturnCode)> SubscribeAsync(string? name, int qos, byte topicIdType = Normal, ushort topicId = 0)
    {
        var msgId = NextMsgId();
        byte[] topic = topicIdType == Predefined ? U16(topicId) : Text(name!);
        Send(Subscribe, [Flags(qos, clean: false, topicIdType: topicIdType)], U16(msgId), topic);
        var ack = await ExpectAsync(SubAck);
        Assert.Equal(msgId, BinaryPrimitives.ReadUInt16BigEndian(ack.AsSpan(3)));
        return (ack[0], BinaryPrimitives.ReadUInt16BigEndian(ack.AsSpan(1)), ack[5]);
    }

    /// A message from the gateway: a REGISTER first is answered (and remembered), then the PUBLISH is acknowledged
    /// as its QoS asks. Returns (topic, payload, qos, dup, topic id type).
    public async Task<(string Topic, string Payload, int QoS, bool Dup, byte TopicIdType)> ReceivePublishAsync(TimeSpan? timeout = null, bool acknowledge = true)
    {
        while (true)
        {
            var (type, body) = await ReceiveAsync(timeout);
            if (type == Register)
            {
                var id = BinaryPrimitives.ReadUInt16BigEndian(body);
                Topics[id] = Encoding.UTF8.GetString(body.AsSpan(4));
                Send(RegAck, U16(id), body[2..4], [0]);
                continue;
            }

            Assert.True(type == Publish, $"expected PUBLISH, got 0x{type:X2}");
            var flags = body[0];
            var qos = (flags >> 5) & 3;
            var idType = (byte)(flags & 3);
            var topicId = BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(1));
            var msgId = body.AsSpan(3, 2).ToArray();
            var topic = idType == Short ? Encoding.ASCII.GetString(body, 1, 2) : idType == Normal ? Topics[topicId] : $"predefined:{topicId}";
            if (acknowledge && qos == 1)
                Send(PubAck, U16(topicId), msgId, [0]);
            if (acknowledge && qos == 2)
            {
                Send(PubRec, msgId);
                Assert.Equal(msgId, await ExpectAsync(PubRel));
                Send(PubComp, msgId);
            }
            return (topic, Encoding.UTF8.GetString(body.AsSpan(5)), qos, (flags & 0x80) != 0, idType);
        }
    }

    public void Dispose() => _socket.Dispose();
}

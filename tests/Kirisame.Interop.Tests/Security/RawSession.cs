using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Kirisame.Interop.Tests.Security;

/// A hand-made MQTT connection from a chosen loopback source address (127.0.0.x), for tests that need to
/// see exact reason codes and to tell a refused CONNECT from a socket the broker closed. Client libraries
/// hide both. Protocol level 5 (MQTT 5.0) or 4 (3.1.1).
internal sealed class RawSession : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static int s_clientIds;

    private readonly Socket _socket;
    private readonly byte _protocolLevel;
    private ushort _packetId;

    private RawSession(Socket socket, byte protocolLevel)
    {
        _socket = socket;
        _protocolLevel = protocolLevel;
    }

    /// The CONNACK's reason code (v5) or return code (v3.1.1); null when the broker closed the connection
    /// without a CONNACK (refused at accept).
    public int? ConnAck { get; private set; }

    public bool Accepted => ConnAck == 0;

    /// Opens a TCP connection from <paramref name="from"/> (127.0.0.1 unless given) and sends CONNECT.
    /// <paramref name="authenticationMethod"/> (v5 only) goes into CONNECT's properties.
    public static async Task<RawSession> ConnectAsync(int port, string? from = null, byte protocolLevel = 5, string? user = null, string? password = null,
        string? authenticationMethod = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var session = new RawSession(socket, protocolLevel);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Parse(from ?? "127.0.0.1"), 0));
            using var cts = new CancellationTokenSource(Timeout);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                // Accepted and closed by the broker before the connect call returned.
                return session;
            }

            var body = new List<byte>();
            AddString(body, "MQTT");
            body.Add(protocolLevel);
            body.Add((byte)(0x02 | (user is null ? 0 : 0x80) | (password is null ? 0 : 0x40))); // clean start
            body.AddRange([0x00, 0x3C]); // keep alive 60 s
            if (protocolLevel == 5)
            {
                var properties = new List<byte>();
                if (authenticationMethod is not null)
                {
                    properties.Add(0x15);
                    AddString(properties, authenticationMethod);
                }

                WireBytes.AddVariableByteInteger(body, properties.Count);
                body.AddRange(properties);
            }

            AddString(body, $"raw-{Environment.ProcessId}-{Interlocked.Increment(ref s_clientIds)}");
            if (user is not null)
                AddString(body, user);
            if (password is not null)
                AddString(body, password);
            if (!await session.SendAsync(0x10, body))
                return session;

            var connack = await session.ReceiveAsync();
            if (connack is not null)
            {
                Assert.Equal(0x20, connack.Value.Type);
                session.ConnAck = connack.Value.Body[1];
            }

            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// SUBSCRIBE to one filter at QoS 1; returns the SUBACK's code (0x01 granted, 0x87/0x80 refused).
    public async Task<int> SubscribeAsync(string filter)
    {
        var body = new List<byte>();
        AddPacketId(body);
        if (_protocolLevel == 5)
            body.Add(0x00);
        AddString(body, filter);
        body.Add(0x01);
        Assert.True(await SendAsync(0x82, body), "the broker closed the connection before SUBSCRIBE");
        var suback = await ReceiveAsync() ?? throw new InvalidOperationException("The broker closed the connection instead of sending SUBACK.");
        Assert.Equal(0x90, suback.Type);
        var offset = 2;
        if (_protocolLevel == 5)
            offset += SkipProperties(suback.Body, offset);
        return suback.Body[offset];
    }

    /// PUBLISH at QoS 1; returns the PUBACK's reason code (v5: 0x87 when the ACL drops it).
    public async Task<int> PublishAsync(string topic, string payload)
    {
        var body = new List<byte>();
        AddString(body, topic);
        AddPacketId(body);
        if (_protocolLevel == 5)
            body.Add(0x00);
        body.AddRange(Encoding.UTF8.GetBytes(payload));
        Assert.True(await SendAsync(0x32, body), "the broker closed the connection before PUBLISH");
        var puback = await ReceiveAsync() ?? throw new InvalidOperationException("The broker closed the connection instead of sending PUBACK.");
        Assert.Equal(0x40, puback.Type);
        return puback.Body.Length > 2 ? puback.Body[2] : 0;
    }

    /// The next packet, which must be a PUBLISH: returns its topic and payload, and acknowledges it (QoS 1).
    public async Task<(string Topic, string Payload)> ReceivePublishAsync()
    {
        var publish = await ReceiveAsync() ?? throw new InvalidOperationException("The broker closed the connection instead of sending PUBLISH.");
        Assert.Equal(0x30, publish.Type & 0xF0);
        var body = publish.Body;
        var topicLength = (body[0] << 8) | body[1];
        var topic = Encoding.UTF8.GetString(body, 2, topicLength);
        var offset = 2 + topicLength;
        Assert.True((publish.Type & 0x06) <= 0x02, "expected a PUBLISH at QoS 0 or 1");
        if ((publish.Type & 0x06) == 0x02)
        {
            var id = new List<byte> { body[offset], body[offset + 1] };
            offset += 2;
            Assert.True(await SendAsync(0x40, id), "the broker closed the connection before PUBACK");
        }
        if (_protocolLevel == 5)
            offset += SkipProperties(body, offset);
        return (topic, Encoding.UTF8.GetString(body, offset, body.Length - offset));
    }

    /// Whether the broker has closed this connection (reads until end of stream or the deadline).
    public async Task<bool> IsClosedByBrokerAsync() => await ReceiveAsync() is null;

    public void Dispose() => _socket.Dispose();

    private async Task<bool> SendAsync(byte header, List<byte> body)
    {
        var packet = new List<byte> { header };
        WireBytes.AddVariableByteInteger(packet, body.Count);
        packet.AddRange(body);
        try
        {
            using var cts = new CancellationTokenSource(Timeout);
            await _socket.SendAsync(packet.ToArray(), SocketFlags.None, cts.Token);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// The next packet, or null when the broker closed the connection (FIN or RST). A broker that neither
    /// answers nor closes within the timeout fails the test.
    private async Task<(byte Type, byte[] Body)?> ReceiveAsync()
    {
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            var header = new byte[1];
            if (!await ReadExactlyAsync(header, cts.Token))
                return null;
            var length = 0;
            for (var shift = 0; ; shift += 7)
            {
                var digit = new byte[1];
                if (!await ReadExactlyAsync(digit, cts.Token))
                    return null;
                length |= (digit[0] & 0x7F) << shift;
                if ((digit[0] & 0x80) == 0)
                    break;
            }
            var body = new byte[length];
            return await ReadExactlyAsync(body, cts.Token) ? (header[0], body) : null;
        }
        catch (SocketException)
        {
            return null;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The broker neither answered nor closed the connection within {Timeout.TotalSeconds} s.");
        }
    }

    private async Task<bool> ReadExactlyAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        for (var read = 0; read < buffer.Length;)
        {
            var n = await _socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cancellationToken);
            if (n == 0)
                return false;
            read += n;
        }
        return true;
    }

    private static int SkipProperties(byte[] body, int offset)
    {
        int length = 0, used = 0;
        for (var shift = 0; ; shift += 7)
        {
            var digit = body[offset + used++];
            length |= (digit & 0x7F) << shift;
            if ((digit & 0x80) == 0)
                return used + length;
        }
    }

    private void AddPacketId(List<byte> body)
    {
        var id = ++_packetId;
        body.Add((byte)(id >> 8));
        body.Add((byte)id);
    }

    private static void AddString(List<byte> buffer, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        buffer.Add((byte)(bytes.Length >> 8));
        buffer.Add((byte)bytes.Length);
        buffer.AddRange(bytes);
    }
}

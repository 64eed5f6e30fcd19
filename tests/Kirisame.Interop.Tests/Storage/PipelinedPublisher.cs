using System.Net.Sockets;
using System.Text;

namespace Kirisame.Interop.Tests.Storage;

/// An MQTT 3.1.1 publisher as fast clients are: QoS 1 PUBLISHes numbered in their payload, up to
/// <see cref="Window"/> of them unacknowledged at once, written in order on one connection (so the broker receives
/// them in number order, which a client library with concurrent publishes does not promise). Records each number
/// whose PUBACK arrived. Hand-made bytes: the client libraries send one QoS 1 message at a time.
internal sealed class PipelinedPublisher : IDisposable
{
    public const int Window = 64;

    private readonly Socket _socket;
    private readonly SemaphoreSlim _slots = new(Window, Window);
    private readonly int[] _numberOf = new int[65536];

    private PipelinedPublisher(Socket socket) => _socket = socket;

    public static async Task<PipelinedPublisher> ConnectAsync(int port, string clientId, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync("127.0.0.1", port, cancellationToken);
            var body = new List<byte>();
            WireBytes.AddString(body, "MQTT");
            body.AddRange([4, 0x02, 0x00, 0x3C]); // 3.1.1, clean session, keep alive 60 s
            WireBytes.AddString(body, clientId);
            await socket.SendAsync(WireBytes.Packet(0x10, body), cancellationToken);
            var connack = new byte[4];
            for (var read = 0; read < connack.Length;)
            {
                var n = await socket.ReceiveAsync(connack.AsMemory(read), cancellationToken);
                if (n == 0)
                    throw new IOException("closed before CONNACK");
                read += n;
            }

            if (connack[0] != 0x20 || connack[3] != 0)
                throw new IOException($"CONNACK refused: {Convert.ToHexString(connack)}");
            return new PipelinedPublisher(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// Publishes numbers from <paramref name="first"/> on to <paramref name="topic"/> until
    /// <paramref name="stop"/> says so or the connection fails (the broker was killed), calling
    /// <paramref name="acknowledged"/> with each number whose PUBACK arrived, in order. Returns the next number to use:
    /// one that was sent but not acknowledged may still have been stored, so numbers are never sent twice.
    public async Task<int> PublishAsync(string topic, int first, int payloadBytes, Func<int, bool> stop, Action<int> acknowledged)
    {
        using var failed = new CancellationTokenSource();
        var reading = ReadAcksAsync(acknowledged, failed);
        var next = first;
        ushort packetId = 0;
        try
        {
            while (!stop(next) && !failed.IsCancellationRequested)
            {
                await _slots.WaitAsync(failed.Token);
                packetId = (ushort)(packetId % 65535 + 1);
                _numberOf[packetId] = next;
                await _socket.SendAsync(Publish(topic, packetId, next, payloadBytes), failed.Token);
                next++;
            }

            // Wait for the acknowledgements still due (or for the connection to fail).
            for (var i = 0; i < Window; i++)
                await _slots.WaitAsync(failed.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
        }

        await failed.CancelAsync();
        _socket.Dispose();
        await reading;
        return next;
    }

    private async Task ReadAcksAsync(Action<int> acknowledged, CancellationTokenSource failed)
    {
        var buffer = new byte[4096];
        var filled = 0;
        try
        {
            while (true)
            {
                var n = await _socket.ReceiveAsync(buffer.AsMemory(filled), failed.Token);
                if (n == 0)
                    break;
                filled += n;
                var at = 0;
                // PUBACK: 0x40 0x02 id id (nothing else is expected on a publisher's connection).
                while (filled - at >= 4)
                {
                    if (buffer[at] != 0x40 || buffer[at + 1] != 0x02)
                        throw new IOException($"unexpected packet 0x{buffer[at]:X2}");
                    acknowledged(_numberOf[(buffer[at + 2] << 8) | buffer[at + 3]]);
                    _slots.Release();
                    at += 4;
                }

                Array.Copy(buffer, at, buffer, 0, filled - at);
                filled -= at;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
        }

        await failed.CancelAsync();
    }

    /// Random bytes the payloads are cut from, so that what the store writes does not compress away.
    private static readonly byte[] s_noise = RandomNoise();

    private static byte[] RandomNoise()
    {
        var noise = new byte[1 << 20];
        new Random(13).NextBytes(noise);
        return noise;
    }

    /// A QoS 1 PUBLISH whose payload is the number in decimal and a space, filled up to
    /// <paramref name="payloadBytes"/> with random bytes (<see cref="Number"/> reads it back).
    private static byte[] Publish(string topic, ushort packetId, int number, int payloadBytes)
    {
        var body = new List<byte>(payloadBytes + topic.Length + 8);
        WireBytes.AddString(body, topic);
        body.Add((byte)(packetId >> 8));
        body.Add((byte)packetId);
        var text = Encoding.ASCII.GetBytes(number.ToString(System.Globalization.CultureInfo.InvariantCulture) + " ");
        body.AddRange(text);
        var fill = Math.Max(0, payloadBytes - text.Length);
        var offset = (int)((uint)(number * 7919) % (uint)(s_noise.Length - fill));
        body.AddRange(s_noise.AsSpan(offset, fill));
        return WireBytes.Packet(0x32, body);
    }

    /// The number a payload made by this publisher carries.
    public static int Number(ReadOnlySpan<byte> payload) =>
        int.Parse(Encoding.ASCII.GetString(payload[..payload.IndexOf((byte)' ')]), System.Globalization.CultureInfo.InvariantCulture);



    public void Dispose()
    {
        _socket.Dispose();
        _slots.Dispose();
    }
}

using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;

namespace Kirisame.Interop.Tests.Security.Campaign;

/// What one case came to: whether the connection was opened (TCP, TLS handshake, WebSocket upgrade),
/// whether the broker admitted the client (CONNACK 0x00, after a SCRAM exchange when there was one), and what
/// went wrong, if anything.
internal sealed record CampaignOutcome(bool Opened, bool Admitted, string? Problem);

/// Where the campaign's broker listens.
internal sealed record CampaignTargets(int Tcp, int Tls, int Ws, int Wss, X509Certificate2 Ca);

/// Plays one case on a fresh connection: sends its packets (answering the server's SCRAM challenge when the
/// case has one), ends its output like a client that is done, and waits for the broker to close the
/// connection.
internal static class CampaignConnection
{
    /// From the end of the client's output to the broker's close; also bounds connecting and each write.
    public static readonly TimeSpan CloseDeadline = TimeSpan.FromSeconds(10);

    public static async Task<CampaignOutcome> RunAsync(CampaignCase c, CampaignTargets targets)
    {
        Channel? opened;
        try
        {
            opened = await Channel.OpenAsync(c.Transport, targets);
        }
        catch (Exception ex) when (ex is SocketException or IOException or WebSocketException or OperationCanceledException
            or System.Security.Authentication.AuthenticationException)
        {
            // No limit is configured, so nothing may be refused at accept, and the handshakes are the server's.
            return new(false, false, $"{c}: connecting failed: {ex.GetType().Name}: {ex.Message}");
        }
        await using var channel = opened;
        var receiving = channel.StartReceiving();
        using (var sending = new CancellationTokenSource(CloseDeadline * 3))
        {
            try
            {
                await channel.SendAsync(c.Packets[0], sending.Token);
                var rest = c.Packets.Skip(1);
                if (c.Scram is { } plan)
                {
                    // A challenge that does not come (a refusal, a closed connection) leaves the rest to be sent blind.
                    var challenge = await channel.Inbox.NextPacketAsync(CloseDeadline);
                    if (challenge is [0xF0, ..] && AuthenticationData(challenge) is { } serverFirst)
                    {
                        byte[] final;
                        try
                        {
                            final = CampaignCases.ClientFinalAuth(plan, serverFirst, new Random(c.Seed ^ (int)c.Index));
                        }
                        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException)
                        {
                            return new(true, false, $"{c}: the server-first message is malformed: {Convert.ToHexString(serverFirst)} ({ex.Message})");
                        }
                        await channel.SendAsync(final, sending.Token);
                    }
                }
                foreach (var packet in rest)
                    await channel.SendAsync(packet, sending.Token);
                await channel.EndOutputAsync(sending.Token);
            }
            catch (Exception ex) when (ex is SocketException or IOException or WebSocketException or ObjectDisposedException or OperationCanceledException)
            {
                // The broker closed the connection under the writes (or they could not finish: the wait below says).
            }
        }

        var closed = await Task.WhenAny(receiving, Task.Delay(CloseDeadline));
        if (closed != receiving)
            return new(true, false, $"{c}: not closed by the broker within {CloseDeadline.TotalSeconds} s of the end of the client's output; received {channel.Inbox.Count} bytes");
        return new(true, channel.Inbox.Admitted, null);
    }

    /// The Authentication Data property of an AUTH packet, or null.
    private static byte[]? AuthenticationData(byte[] packet)
    {
        var i = 1;
        while ((packet[i++] & 0x80) != 0)
        {
        }
        if (i >= packet.Length)
            return null;
        i++; // reason code
        int length = 0, shift = 0;
        while (true)
        {
            var b = packet[i++];
            length |= (b & 0x7F) << shift;
            shift += 7;
            if ((b & 0x80) == 0)
                break;
        }
        var end = Math.Min(packet.Length, i + length);
        while (i < end)
        {
            var id = packet[i++];
            switch (id)
            {
                case 0x15 or 0x16 or 0x1F:
                    var n = packet[i] << 8 | packet[i + 1];
                    if (id == 0x16)
                        return packet[(i + 2)..(i + 2 + n)];
                    i += 2 + n;
                    break;
                case 0x26:
                    i += 2 + (packet[i] << 8 | packet[i + 1]);
                    i += 2 + (packet[i] << 8 | packet[i + 1]);
                    break;
                default:
                    return null;
            }
        }
        return null;
    }

    /// Bytes received from the broker (the first megabyte of them), and a way to wait for the next packet.
    internal sealed class Inbox
    {
        private const int Kept = 1 << 20;
        private readonly List<byte> _bytes = [];
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _read;
        private bool _ended;

        public int Count { get; private set; }

        /// Whether the received bytes hold a CONNACK 0x00 (return code in v3.1.1, reason code in v5).
        public bool Admitted
        {
            get
            {
                lock (_bytes)
                {
                    var i = 0;
                    while (i + 3 < _bytes.Count && _bytes[i] == 0xF0)
                        i = Skip(i);
                    return i + 3 < _bytes.Count && _bytes[i] == 0x20 && _bytes[i + 3] == 0x00;
                }
            }
        }

        /// The offset after the packet at <paramref name="start"/>.
        private int Skip(int start)
        {
            int i = start + 1, length = 0, shift = 0;
            while (i < _bytes.Count)
            {
                var b = _bytes[i++];
                length |= (b & 0x7F) << shift;
                shift += 7;
                if ((b & 0x80) == 0)
                    break;
            }
            return i + length;
        }

        public void Add(ReadOnlySpan<byte> bytes)
        {
            TaskCompletionSource changed;
            lock (_bytes)
            {
                Count += bytes.Length;
                if (_bytes.Count < Kept)
                    _bytes.AddRange(bytes[..Math.Min(bytes.Length, Kept - _bytes.Count)]);
                changed = _changed;
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            changed.TrySetResult();
        }

        public void End()
        {
            lock (_bytes)
                _ended = true;
            Add([]);
        }

        /// The next whole packet, or null when the connection ends or the deadline passes first.
        public async Task<byte[]?> NextPacketAsync(TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                Task changed;
                lock (_bytes)
                {
                    if (TryTake(out var packet))
                        return packet;
                    if (_ended)
                        return null;
                    changed = _changed.Task;
                }
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                    return null;
                await Task.WhenAny(changed, Task.Delay(left));
            }
        }

        private bool TryTake(out byte[] packet)
        {
            packet = [];
            var i = _read + 1;
            int length = 0, shift = 0;
            while (true)
            {
                if (i >= _bytes.Count)
                    return false;
                var b = _bytes[i++];
                length |= (b & 0x7F) << shift;
                shift += 7;
                if ((b & 0x80) == 0)
                    break;
            }
            if (i + length > _bytes.Count)
                return false;
            packet = [.. _bytes.GetRange(_read, i + length - _read)];
            _read = i + length;
            return true;
        }
    }

    /// A client connection over one of the four transports.
    private abstract class Channel : IAsyncDisposable
    {
        public Inbox Inbox { get; } = new();

        public static async Task<Channel> OpenAsync(CampaignTransport transport, CampaignTargets targets)
        {
            using var cts = new CancellationTokenSource(CloseDeadline);
            switch (transport)
            {
                case CampaignTransport.Tcp:
                case CampaignTransport.Tls:
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    try
                    {
                        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, transport == CampaignTransport.Tcp ? targets.Tcp : targets.Tls), cts.Token);
                        if (transport == CampaignTransport.Tcp)
                            return new StreamChannel(socket, new NetworkStream(socket, ownsSocket: false));
                        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
                        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                        {
                            TargetHost = "localhost",
                            CertificateChainPolicy = TrustOnly(targets.Ca),
                        }, cts.Token);
                        return new StreamChannel(socket, ssl);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                default:
                    var ws = new ClientWebSocket();
                    ws.Options.AddSubProtocol("mqtt");
                    if (transport == CampaignTransport.Wss)
                    {
                        var policy = TrustOnly(targets.Ca);
                        ws.Options.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                        {
                            using var chain = new X509Chain { ChainPolicy = policy.Clone() };
                            return certificate is not null && chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
                        };
                    }
                    try
                    {
                        var uri = transport == CampaignTransport.Ws ? $"ws://127.0.0.1:{targets.Ws}/mqtt" : $"wss://localhost:{targets.Wss}/mqtt";
                        await ws.ConnectAsync(new Uri(uri), cts.Token);
                        return new WebSocketChannel(ws);
                    }
                    catch
                    {
                        ws.Dispose();
                        throw;
                    }
            }
        }

        private static X509ChainPolicy TrustOnly(X509Certificate2 ca) => new()
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            CustomTrustStore = { ca },
            RevocationMode = X509RevocationMode.NoCheck,
        };

        public abstract Task SendAsync(byte[] bytes, CancellationToken cancellationToken);

        public abstract Task EndOutputAsync(CancellationToken cancellationToken);

        /// The read loop, once started.
        protected Task Receiving { get; private set; } = Task.CompletedTask;

        public Task StartReceiving() => Receiving = ReceiveAllAsync();

        /// Reads until the broker ends the connection (end of stream, reset or close frame).
        protected abstract Task ReceiveAllAsync();

        public abstract ValueTask DisposeAsync();
    }

    private sealed class StreamChannel(Socket socket, Stream stream) : Channel
    {
        public override async Task SendAsync(byte[] bytes, CancellationToken cancellationToken) => await stream.WriteAsync(bytes, cancellationToken);

        /// A TCP half-close, under TLS too. Not SslStream.ShutdownAsync (close_notify): OpenSSL refused it on
        /// connections the broker had closed, and once, alongside the pending read, the test host died of a
        /// segfault in libssl. Without close_notify the broker sees the stream end all the same.
        public override Task EndOutputAsync(CancellationToken cancellationToken)
        {
            socket.Shutdown(SocketShutdown.Send);
            return Task.CompletedTask;
        }

        protected override async Task ReceiveAllAsync()
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int n;
                while ((n = await stream.ReadAsync(buffer)) > 0)
                    Inbox.Add(buffer.AsSpan(0, n));
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
            {
                // Reset: closed too.
            }
            Inbox.End();
        }

        /// The socket first, which ends a pending read, then the stream once no read is using it.
        public override async ValueTask DisposeAsync()
        {
            socket.Dispose();
            await Task.WhenAny(Receiving, Task.Delay(CloseDeadline));
            await stream.DisposeAsync();
        }
    }

    private sealed class WebSocketChannel(ClientWebSocket socket) : Channel
    {
        public override async Task SendAsync(byte[] bytes, CancellationToken cancellationToken) =>
            await socket.SendAsync(bytes, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken);

        public override async Task EndOutputAsync(CancellationToken cancellationToken) =>
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken);

        protected override async Task ReceiveAllAsync()
        {
            var buffer = new byte[16 * 1024];
            try
            {
                while (true)
                {
                    var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                    if (result.MessageType == WebSocketMessageType.Close)
                        break;
                    Inbox.Add(buffer.AsSpan(0, result.Count));
                }
            }
            catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
            {
                // The broker dropped the connection: closed too.
            }
            Inbox.End();
        }

        public override ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

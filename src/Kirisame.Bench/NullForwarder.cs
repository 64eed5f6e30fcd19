using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Kirisame.Native;
using Kirisame.Protocol;
using Kirisame.Protocol.Primitives;

namespace Kirisame.Bench;

/// `kirisame bench --null-forwarder`: the physical limit for fan-in on a machine. It answers CONNECT,
/// SUBSCRIBE and PINGREQ with the fixed acknowledgements and copies every QoS 0 PUBLISH, whole and as
/// received, to every subscriber: no topics, no sessions, no queues, no routing. One thread and one epoll
/// set (level-triggered); when the subscribers' unsent bytes pass a high-water mark it stops reading the
/// publishers, so TCP slows them instead of anything being dropped.
public sealed unsafe class NullForwarder : IDisposable
{
    private const int ReceiveSize = 64 * 1024;
    private const int HighWater = 1024 * 1024;
    private const int LowWater = 256 * 1024;
    private const ulong ListenerId = ulong.MaxValue;

    private readonly Socket _listener;
    private readonly int _epoll;
    private readonly Dictionary<int, Client> _clients = [];
    private readonly List<Client> _subscribers = [];
    private bool _paused;

    private sealed class Client(int fd)
    {
        public int Fd { get; } = fd;

        public byte[] Input = new byte[ReceiveSize];

        public int Filled;

        public bool V5;

        public bool Subscriber;

        public byte[] Output = [];

        public int OutputStart;

        public int OutputEnd;

        /// The epoll events asked for now.
        public int Events = Epoll.EpollIn;

        public int Unsent => OutputEnd - OutputStart;
    }

    /// Binds and listens; <see cref="Run"/> serves. Linux x86-64 only.
    public NullForwarder(IPEndPoint endPoint)
    {
        if (!Epoll.IsSupported)
            throw new PlatformNotSupportedException("The null forwarder runs on Linux x86-64 only.");
        _listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(endPoint);
        _listener.Listen(1024);
        _listener.Blocking = false;
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _epoll = Epoll.Create(Epoll.SockCloExec);
        if (_epoll < 0)
            throw new IOException($"epoll_create1 failed (errno {Marshal.GetLastPInvokeError()})");
        Add(ListenerFd, ListenerId, Epoll.EpollIn);
    }

    public IPEndPoint EndPoint { get; }

    private int ListenerFd => (int)_listener.SafeHandle.DangerousGetHandle();

    /// Serves until <paramref name="cancellationToken"/> is cancelled (checked at least every 200 ms).
    public void Run(CancellationToken cancellationToken)
    {
        var events = stackalloc Epoll.Event[256];
        while (!cancellationToken.IsCancellationRequested)
        {
            var count = Epoll.Wait(_epoll, events, 256, 200);
            if (count < 0)
            {
                if (Marshal.GetLastPInvokeError() == Epoll.EIntr)
                    continue;
                throw new IOException($"epoll_wait failed (errno {Marshal.GetLastPInvokeError()})");
            }

            for (var e = 0; e < count; e++)
            {
                if (events[e].Data == ListenerId)
                {
                    Accept();
                    continue;
                }

                if (!_clients.TryGetValue((int)events[e].Data, out var client))
                    continue;
                var flags = events[e].Events;
                if ((flags & (Epoll.EpollErr | Epoll.EpollHup)) != 0)
                {
                    Drop(client);
                    continue;
                }

                if ((flags & Epoll.EpollOut) != 0)
                    Flush(client);
                if ((flags & Epoll.EpollIn) != 0 && !Read(client))
                    Drop(client);
            }

            foreach (var subscriber in _subscribers)
            {
                if (subscriber.Unsent > 0)
                    Flush(subscriber);
            }

            UpdatePause();
        }
    }

    private void Accept()
    {
        while (true)
        {
            var fd = Epoll.Accept(ListenerFd, null, null, Epoll.SockNonBlock | Epoll.SockCloExec);
            if (fd < 0)
                return; // EAGAIN, or a connection reset before it was accepted
            var noDelay = 1;
            Epoll.SetOption(fd, Epoll.IpProtoTcp, Epoll.TcpNoDelay, &noDelay, sizeof(int));
            var client = new Client(fd) { Events = _paused ? 0 : Epoll.EpollIn };
            _clients[fd] = client;
            Add(fd, (ulong)fd, client.Events);
        }
    }

    /// Reads what the client sent and handles each whole packet; false when the client is gone.
    private bool Read(Client client)
    {
        var n = Receive(client.Fd, client.Input.AsSpan(client.Filled));
        if (n == 0)
            return false;
        if (n < 0)
            return true; // nothing after all
        client.Filled += n;
        var span = client.Input.AsSpan(0, client.Filled);
        var at = 0;
        while (true)
        {
            var framed = TryFrame(span[at..], out var length, out var header);
            if (framed < 0)
                return false; // not MQTT
            if (framed == 0)
                break;
            if (!Handle(client, span.Slice(at, length), header))
                return false;
            at += length;
        }

        span[at..].CopyTo(client.Input);
        client.Filled -= at;
        if (client.Filled == client.Input.Length)
            Array.Resize(ref client.Input, client.Input.Length * 2); // a packet larger than the buffer
        return true;
    }

    private bool Handle(Client client, ReadOnlySpan<byte> packet, int header)
    {
        var body = packet[header..];
        switch (packet[0] >> 4)
        {
            case 1: // CONNECT: protocol name, then the level (5 = MQTT 5.0)
                client.V5 = body.Length > 6 && body[6] == 5;
                Send(client, client.V5 ? [0x20, 0x03, 0x00, 0x00, 0x00] : [0x20, 0x02, 0x00, 0x00]);
                return true;
            case 3: // PUBLISH
                if ((packet[0] & 0x06) != 0)
                    return false; // QoS 0 only: acknowledging would be more than copying
                foreach (var subscriber in _subscribers)
                    Append(subscriber, packet);
                return true;
            case 8: // SUBSCRIBE: granted QoS 0 for each filter
                var granted = CountFilters(body, client.V5);
                var suback = new byte[2 + 2 + (client.V5 ? 1 : 0) + granted];
                suback[0] = 0x90;
                suback[1] = (byte)(suback.Length - 2);
                suback[2] = body[0];
                suback[3] = body[1];
                Send(client, suback);
                if (!client.Subscriber)
                {
                    client.Subscriber = true;
                    _subscribers.Add(client);
                }

                return true;
            case 12: // PINGREQ
                Send(client, [0xD0, 0x00]);
                return true;
            case 14: // DISCONNECT
                return false;
            default:
                return true;
        }
    }

    /// SUBSCRIBE body: packet id, (v5) properties, then filters each followed by an options byte.
    private static int CountFilters(ReadOnlySpan<byte> body, bool v5)
    {
        var at = 2;
        if (v5)
        {
            VariableByteInteger.TryRead(body[at..], out var properties, out var lengthBytes);
            at += lengthBytes + properties;
        }

        var count = 0;
        while (at + 2 <= body.Length)
        {
            at += 2 + ((body[at] << 8) | body[at + 1]) + 1;
            count++;
        }

        return count;
    }

    /// A whole packet at the start of <paramref name="bytes"/> (1, with its length and its fixed header's),
    /// not yet (0), or a malformed remaining length (-1).
    private static int TryFrame(ReadOnlySpan<byte> bytes, out int length, out int header)
    {
        length = header = 0;
        if (bytes.IsEmpty)
            return 0;
        var error = VariableByteInteger.TryRead(bytes[1..], out var remaining, out var lengthBytes);
        if (error == DecodeError.Truncated)
            return 0;
        if (error != DecodeError.None)
            return -1;
        header = 1 + lengthBytes;
        length = header + remaining;
        return length <= bytes.Length ? 1 : 0;
    }

    private static void Append(Client client, ReadOnlySpan<byte> bytes)
    {
        if (client.OutputEnd + bytes.Length > client.Output.Length)
        {
            var unsent = client.Unsent;
            var target = client.Output.Length >= unsent + bytes.Length ? client.Output : new byte[Math.Max(64 * 1024, (unsent + bytes.Length) * 2)];
            client.Output.AsSpan(client.OutputStart, unsent).CopyTo(target);
            client.Output = target;
            client.OutputStart = 0;
            client.OutputEnd = unsent;
        }

        bytes.CopyTo(client.Output.AsSpan(client.OutputEnd));
        client.OutputEnd += bytes.Length;
    }

    private void Send(Client client, ReadOnlySpan<byte> bytes)
    {
        Append(client, bytes);
        Flush(client);
    }

    /// Sends what the client has waiting; asks for a writable event when the socket is full.
    private void Flush(Client client)
    {
        while (client.Unsent > 0)
        {
            nint n;
            fixed (byte* p = &client.Output[client.OutputStart])
                n = Epoll.Send(client.Fd, p, client.Unsent, Epoll.MsgDontWait | Epoll.MsgNoSignal);
            if (n < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Epoll.EIntr)
                    continue;
                if (errno == Epoll.EAgain)
                {
                    Modify(client, Epoll.EpollOut | (client.Subscriber || !_paused ? Epoll.EpollIn : 0));
                    return;
                }

                return; // the connection failed: its read side reports it
            }

            client.OutputStart += (int)n;
        }

        client.OutputStart = client.OutputEnd = 0;
        Modify(client, client.Subscriber || !_paused ? Epoll.EpollIn : 0);
    }

    /// Publishers are read only while the subscribers have room.
    private void UpdatePause()
    {
        var unsent = 0;
        foreach (var subscriber in _subscribers)
            unsent = Math.Max(unsent, subscriber.Unsent);
        var pause = _paused ? unsent > LowWater : unsent > HighWater;
        if (pause == _paused)
            return;
        _paused = pause;
        foreach (var client in _clients.Values)
        {
            if (!client.Subscriber)
                Modify(client, (pause ? 0 : Epoll.EpollIn) | (client.Unsent > 0 ? Epoll.EpollOut : 0));
        }
    }

    private int Receive(int fd, Span<byte> into)
    {
        if (into.IsEmpty)
            return -1;
        while (true)
        {
            nint n;
            fixed (byte* p = into)
                n = Epoll.Receive(fd, p, into.Length, Epoll.MsgDontWait);
            if (n >= 0)
                return (int)n;
            var errno = Marshal.GetLastPInvokeError();
            if (errno == Epoll.EIntr)
                continue;
            return errno == Epoll.EAgain ? -1 : 0;
        }
    }

    private void Drop(Client client)
    {
        Epoll.Close(client.Fd); // leaves the epoll set with it
        _clients.Remove(client.Fd);
        _subscribers.Remove(client);
    }

    private void Add(int fd, ulong id, int events)
    {
        var ev = new Epoll.Event { Events = (uint)events, Data = id };
        if (Epoll.Control(_epoll, Epoll.CtlAdd, fd, &ev) != 0)
            throw new IOException($"epoll_ctl(ADD) failed (errno {Marshal.GetLastPInvokeError()})");
    }

    private void Modify(Client client, int events)
    {
        if (client.Events == events)
            return;
        client.Events = events;
        var ev = new Epoll.Event { Events = (uint)events, Data = (ulong)client.Fd };
        Epoll.Control(_epoll, Epoll.CtlMod, client.Fd, &ev);
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values)
            Epoll.Close(client.Fd);
        _clients.Clear();
        Epoll.Close(_epoll);
        _listener.Dispose();
    }
}

using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using Kirisame.Native;
using Kirisame.Protocol;
using Kirisame.Protocol.Primitives;

namespace Kirisame.Bench.Clients;

/// The connection scenario's clients on Linux: plain non-blocking sockets driven by one thread and one
/// epoll set, no Socket objects or tasks. Connecting is the generator's costliest work (on loopback the
/// whole TCP handshake runs in the connecting process), so it is kept to a socket, a bind, a connect, a
/// send and a receive per client: the broker, not the generator, has to set the connect rate.
internal sealed unsafe class EpollConnector : IIdleClients
{
    private const byte Connecting = 1; // connect() in progress: waiting to be writable
    private const byte Sending = 2; // CONNECT partly sent
    private const byte AwaitingConnAck = 3;
    private const byte Established = 4;
    private const byte Closed = 5;
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    private readonly int[] _fds;
    private readonly byte[] _states;
    private readonly long[] _started;
    private readonly byte[][] _connects;
    private readonly int[] _sent;
    private readonly Dictionary<int, byte[]> _partial = [];
    private int _epoll = -1;

    private EpollConnector(int count)
    {
        _fds = new int[count];
        Array.Fill(_fds, -1);
        _states = new byte[count];
        _started = new long[count];
        _connects = new byte[count][];
        _sent = new int[count];
    }

    /// Linux x86-64, IPv4 brokers.
    public static bool CanConnect(EndPoint broker) => Epoll.IsSupported && broker is IPEndPoint { AddressFamily: System.Net.Sockets.AddressFamily.InterNetwork };

    public int Connected { get; private set; }

    public int Failed { get; private set; }

    public string? FirstFailure { get; private set; }

    /// Opens <paramref name="count"/> clients, at most <paramref name="concurrency"/> handshakes at a time:
    /// client i binds to <paramref name="sourceAddress"/>(i) (when given) and sends <paramref name="connect"/>(i).
    /// Returns when every client has its CONNACK or has failed.
    public static EpollConnector Open(
        IPEndPoint broker, int count, int concurrency, Func<int, IPAddress?> sourceAddress, Func<int, byte[]> connect, CancellationToken cancellationToken)
    {
        var connector = new EpollConnector(count);
        try
        {
            connector.Run(broker, concurrency, sourceAddress, connect, cancellationToken);
        }
        catch
        {
            connector.Dispose();
            throw;
        }

        return connector;
    }

    private void Run(IPEndPoint broker, int concurrency, Func<int, IPAddress?> sourceAddress, Func<int, byte[]> connect, CancellationToken cancellationToken)
    {
        _epoll = Epoll.Create(Epoll.SockCloExec);
        if (_epoll < 0)
            throw new IOException($"epoll_create1 failed (errno {Marshal.GetLastPInvokeError()})");
        var events = stackalloc Epoll.Event[256];
        var brokerAddress = SocketAddress(broker);
        var count = _fds.Length;
        var next = 0;
        var inFlight = 0;
        var lastScan = Stopwatch.GetTimestamp();
        while (next < count || inFlight > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            while (next < count && inFlight < concurrency)
            {
                _connects[next] = connect(next);
                if (Start(next, brokerAddress, sourceAddress(next)))
                    inFlight++;
                next++;
            }

            var ready = Epoll.Wait(_epoll, events, 256, 100);
            if (ready < 0 && Marshal.GetLastPInvokeError() != Epoll.EIntr)
                throw new IOException($"epoll_wait failed (errno {Marshal.GetLastPInvokeError()})");
            for (var e = 0; e < ready; e++)
            {
                var i = (int)events[e].Data;
                if (_states[i] is Connecting or Sending or AwaitingConnAck && !OnEvents(i, events[e].Events))
                    inFlight--;
            }

            if (Stopwatch.GetElapsedTime(lastScan) > TimeSpan.FromMilliseconds(100))
            {
                lastScan = Stopwatch.GetTimestamp();
                for (var i = 0; i < next; i++)
                {
                    if (_states[i] is Connecting or Sending or AwaitingConnAck && Stopwatch.GetElapsedTime(_started[i]) > HandshakeTimeout)
                    {
                        Fail(i, $"no CONNACK within {HandshakeTimeout.TotalSeconds:0} s");
                        inFlight--;
                    }
                }
            }
        }

        Epoll.Close(_epoll); // the open clients leave the set with it
        _epoll = -1;
    }

    /// Creates, binds and connects client i, sending CONNECT at once when the connection is already up (on
    /// loopback it usually is). False when it failed straight away.
    private bool Start(int i, ReadOnlySpan<byte> brokerAddress, IPAddress? source)
    {
        _started[i] = Stopwatch.GetTimestamp();
        var fd = Epoll.Socket(Epoll.AfInet, Epoll.SockStream | Epoll.SockNonBlock | Epoll.SockCloExec, 0);
        if (fd < 0)
        {
            Fail(i, $"socket() failed (errno {Marshal.GetLastPInvokeError()})");
            return false;
        }

        _fds[i] = fd;
        if (source is not null)
        {
            // Choose the port at connect() from the whole 4-tuple, so each source address has its own range.
            var one = 1;
            Epoll.SetOption(fd, Epoll.SolIp, Epoll.IpBindAddressNoPort, &one, sizeof(int));
            Span<byte> local = stackalloc byte[16];
            WriteSocketAddress(local, source, 0);
            fixed (byte* p = local)
            {
                if (Epoll.Bind(fd, p, local.Length) != 0)
                {
                    Fail(i, $"bind to {source} failed (errno {Marshal.GetLastPInvokeError()})");
                    return false;
                }
            }
        }

        int result;
        fixed (byte* p = brokerAddress)
            result = Epoll.Connect(fd, p, brokerAddress.Length);
        if (result != 0 && Marshal.GetLastPInvokeError() != Epoll.EInProgress)
        {
            Fail(i, $"connect failed (errno {Marshal.GetLastPInvokeError()})");
            return false;
        }

        // On loopback the handshake is usually over by now: send CONNECT at once and wait only for the
        // CONNACK. Otherwise (not connected yet, or failed) the writable event says which.
        var events = Epoll.EpollIn | Epoll.EpollRdHup | Epoll.EpollEt;
        _states[i] = Sending;
        if (TrySend(i, out _) == SendOutcome.Sent)
        {
            _states[i] = AwaitingConnAck;
        }
        else
        {
            _states[i] = _sent[i] > 0 ? Sending : Connecting;
            events |= Epoll.EpollOut;
        }

        var ev = new Epoll.Event { Events = events, Data = (ulong)i };
        if (Epoll.Control(_epoll, Epoll.CtlAdd, fd, &ev) != 0)
        {
            Fail(i, $"epoll_ctl failed (errno {Marshal.GetLastPInvokeError()})");
            return false;
        }

        return true;
    }

    /// Advances client i's handshake; false once it is over (CONNACK received, or failed).
    private bool OnEvents(int i, uint events)
    {
        if (_states[i] == Connecting)
        {
            if ((events & (Epoll.EpollOut | Epoll.EpollErr | Epoll.EpollHup)) == 0)
                return true;
            int error = 0, length = sizeof(int);
            Epoll.GetOption(_fds[i], Epoll.SolSocket, Epoll.SoError, &error, &length);
            if (error != 0)
                return Fail(i, $"connect failed (errno {error})");
            _states[i] = Sending;
        }

        if (_states[i] == Sending)
        {
            switch (TrySend(i, out var errno))
            {
                case SendOutcome.WouldBlock:
                    return true; // the next writable event continues
                case SendOutcome.Failed:
                    return Fail(i, $"sending CONNECT failed (errno {errno})");
            }

            _states[i] = AwaitingConnAck;
        }

        return ReceiveConnAck(i);
    }

    private enum SendOutcome
    {
        Sent,
        WouldBlock,
        Failed,
    }

    /// Sends what is left of client i's CONNECT.
    private SendOutcome TrySend(int i, out int errno)
    {
        errno = 0;
        var connect = _connects[i];
        while (_sent[i] < connect.Length)
        {
            nint n;
            fixed (byte* p = &connect[_sent[i]])
                n = Epoll.Send(_fds[i], p, connect.Length - _sent[i], Epoll.MsgDontWait | Epoll.MsgNoSignal);
            if (n >= 0)
            {
                _sent[i] += (int)n;
                continue;
            }

            errno = Marshal.GetLastPInvokeError();
            if (errno == Epoll.EIntr)
                continue;
            return errno == Epoll.EAgain ? SendOutcome.WouldBlock : SendOutcome.Failed;
        }

        _connects[i] = [];
        return SendOutcome.Sent;
    }

    private bool ReceiveConnAck(int i)
    {
        Span<byte> buffer = stackalloc byte[512];
        var filled = 0;
        if (_partial.Remove(i, out var earlier))
        {
            earlier.CopyTo(buffer);
            filled = earlier.Length;
        }

        var ended = false;
        while (true)
        {
            nint n;
            fixed (byte* p = &buffer[filled])
                n = Epoll.Receive(_fds[i], p, buffer.Length - filled, Epoll.MsgDontWait);
            if (n > 0)
            {
                filled += (int)n;
                if (filled < buffer.Length)
                    continue;
                return Fail(i, "the broker sent more than a CONNACK");
            }

            if (n == 0)
            {
                ended = true; // a CONNACK received before the close still counts; CountOpen sees the close
                break;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Epoll.EIntr)
                continue;
            if (errno != Epoll.EAgain)
                return Fail(i, $"receiving CONNACK failed (errno {errno})");
            break;
        }

        switch (ConnAck.TryRead(buffer[..filled], out var reason))
        {
            case ConnAck.Status.Incomplete:
                if (ended)
                    return Fail(i, "the broker closed the connection during the handshake");
                if (filled > 0)
                    _partial[i] = buffer[..filled].ToArray();
                return true;
            case ConnAck.Status.Accepted:
                _states[i] = Established;
                Connected++;
                return false;
            case ConnAck.Status.Refused:
                return Fail(i, $"the broker refused the client: CONNACK 0x{reason:X2}");
            default:
                return Fail(i, $"expected CONNACK, got packet type {buffer[0] >> 4}");
        }
    }

    private bool Fail(int i, string why)
    {
        if (_fds[i] >= 0)
            Epoll.Close(_fds[i]);
        _fds[i] = -1;
        _states[i] = Closed;
        Failed++;
        FirstFailure ??= $"connection {i}: {why}";
        return false;
    }

    /// PINGREQ on every open client.
    public void Ping()
    {
        ReadOnlySpan<byte> ping = [0xC0, 0x00];
        fixed (byte* p = ping)
        {
            foreach (var fd in _fds)
            {
                if (fd >= 0)
                    Epoll.Send(fd, p, ping.Length, Epoll.MsgDontWait | Epoll.MsgNoSignal);
            }
        }
    }

    /// Clients the broker has not closed: a closed socket reads as the end of the stream (a PINGRESP may be
    /// waiting on an open one).
    public int CountOpen()
    {
        var open = 0;
        byte b;
        for (var i = 0; i < _fds.Length; i++)
        {
            if (_states[i] != Established)
                continue;
            var n = Epoll.Receive(_fds[i], &b, 1, Epoll.MsgDontWait | Epoll.MsgPeek);
            if (n > 0 || (n < 0 && Marshal.GetLastPInvokeError() == Epoll.EAgain))
                open++;
        }

        return open;
    }

    /// DISCONNECT and close for every client.
    public void Dispose()
    {
        if (_epoll >= 0)
            Epoll.Close(_epoll);
        _epoll = -1;
        ReadOnlySpan<byte> disconnect = [0xE0, 0x00];
        fixed (byte* p = disconnect)
        {
            for (var i = 0; i < _fds.Length; i++)
            {
                if (_fds[i] < 0)
                    continue;
                if (_states[i] == Established)
                    Epoll.Send(_fds[i], p, disconnect.Length, Epoll.MsgDontWait | Epoll.MsgNoSignal);
                Epoll.Close(_fds[i]);
                _fds[i] = -1;
            }
        }
    }

    private static byte[] SocketAddress(IPEndPoint endPoint)
    {
        var address = new byte[16];
        WriteSocketAddress(address, endPoint.Address, endPoint.Port);
        return address;
    }

    /// struct sockaddr_in: family (host order), port (network order), IPv4 address, zero padding.
    private static void WriteSocketAddress(Span<byte> destination, IPAddress address, int port)
    {
        destination.Clear();
        destination[0] = Epoll.AfInet;
        destination[2] = (byte)(port >> 8);
        destination[3] = (byte)port;
        address.TryWriteBytes(destination[4..8], out _);
    }
}

/// Reads a CONNACK from the start of what the broker sent (3.1.1: flags and return code; 5.0: flags, reason
/// code and properties, which are not needed here).
internal static class ConnAck
{
    public enum Status
    {
        Incomplete,
        Accepted,
        Refused,
        NotConnAck,
    }

    public static Status TryRead(ReadOnlySpan<byte> bytes, out byte reason)
    {
        reason = 0;
        if (bytes.Length < 2)
            return Status.Incomplete;
        if (bytes[0] != 0x20)
            return Status.NotConnAck;
        var lengthError = VariableByteInteger.TryRead(bytes[1..], out var length, out var lengthBytes);
        if (lengthError == DecodeError.Truncated)
            return Status.Incomplete;
        if (lengthError != DecodeError.None)
            return Status.NotConnAck;
        var at = 1 + lengthBytes;
        if (length < 2)
            return Status.NotConnAck;
        if (bytes.Length < at + length)
            return Status.Incomplete;
        reason = bytes[at + 1];
        return reason == 0 ? Status.Accepted : Status.Refused;
    }
}

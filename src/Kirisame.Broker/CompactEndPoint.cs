using System.Net;
using System.Net.Sockets;

namespace Kirisame.Broker;

/// An endpoint as a connection keeps it while idle: an IPv4 address and port as the two numbers, any other endpoint
/// as it is. Every connection holds its peer's address, and an IPEndPoint with its IPAddress is 72 bytes where the
/// numbers are 8 (docs/adr/0012); the endpoint is made again when asked for (log lines, authentication, the admin
/// API), which idle connections never are.
internal readonly struct CompactEndPoint
{
    private readonly EndPoint? _other;
    private readonly uint _v4;
    private readonly int _port; // -1: not an IPv4 endpoint

    public CompactEndPoint(EndPoint? endPoint)
    {
        _port = -1;
        if (endPoint is IPEndPoint { AddressFamily: AddressFamily.InterNetwork } ip && ip.Address.TryWriteBytes(AsBytes(ref _v4), out _))
            _port = ip.Port;
        else
            _other = endPoint;
    }

    public EndPoint? ToEndPoint()
    {
        if (_port < 0)
            return _other;
        var v4 = _v4;
        return new IPEndPoint(new IPAddress(AsBytes(ref v4)), _port);
    }

    private static Span<byte> AsBytes(ref uint value) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(new Span<uint>(ref value));
}

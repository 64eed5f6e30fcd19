using System.Net;
using System.Net.Sockets;

namespace Kirisame.MqttSn.Gateway;

/// A UDP source address is the client's identity on the wire (MQTT-SN has no connection). The receive loop
/// reuses one SocketAddress for every datagram (no allocation per datagram) and looks clients up by it, which
/// compares by content; a client keeps its own copy.
internal static class SnAddress
{
    public static SocketAddress Copy(SocketAddress address)
    {
        var copy = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span[..address.Size].CopyTo(copy.Buffer.Span);
        return copy;
    }

    private static readonly IPEndPoint s_v4 = new(IPAddress.Any, 0);
    private static readonly IPEndPoint s_v6 = new(IPAddress.IPv6Any, 0);

    /// For log lines (IPEndPoint.Create wants a template of the same address family).
    public static IPEndPoint ToEndPoint(SocketAddress address) =>
        (IPEndPoint)(address.Family == AddressFamily.InterNetworkV6 ? s_v6 : s_v4).Create(address);
}

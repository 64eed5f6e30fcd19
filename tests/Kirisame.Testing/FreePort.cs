using System.Net;
using System.Net.Sockets;

namespace Kirisame.Testing;

public static class FreePort
{
    /// A loopback TCP port that was free a moment ago. Another process can take it before the caller binds
    /// it, so the process fixtures retry with a fresh port when the bind fails.
    public static int GetLoopbackPort()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    /// Polls until something accepts TCP connections on 127.0.0.1:port, or the deadline passes.
    public static async Task<bool> WaitUntilAcceptingAsync(int port, TimeSpan timeout, Func<bool>? giveUp = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (giveUp?.Invoke() == true)
                return false;
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), attempt.Token);
                return true;
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                await Task.Delay(50);
            }
        }
        return false;
    }
}

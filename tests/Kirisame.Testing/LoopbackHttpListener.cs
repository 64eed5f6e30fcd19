using System.Net;

namespace Kirisame.Testing;

/// An HttpListener started on a free loopback port, for tests that stand in for an HTTP service (a hook, a JWKS
/// document, an OTLP collector). A free port can be taken by another test between choosing and binding it: then
/// another is chosen.
public static class LoopbackHttpListener
{
    public static HttpListener Start(out int port)
    {
        for (var attempt = 1; ; attempt++)
        {
            port = FreePort.GetLoopbackPort();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return listener;
            }
            catch (HttpListenerException) when (attempt < 10)
            {
                listener.Close();
            }
        }
    }
}

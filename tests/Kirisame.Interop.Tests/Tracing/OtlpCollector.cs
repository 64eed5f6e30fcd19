using System.Net;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Tracing;

/// An OpenTelemetry collector stand-in on a loopback port: keeps the spans of every OTLP/HTTP protobuf
/// trace export posted to it (metrics exports are answered and ignored).
internal sealed class OtlpCollector : IDisposable
{
    private readonly HttpListener _listener;
    private readonly List<ExportedSpan> _spans = [];
    private readonly Task _receiving;

    public OtlpCollector()
    {
        _listener = LoopbackHttpListener.Start(out var port);
        Port = port;
        _receiving = ReceiveAsync();
    }

    public int Port { get; }

    public string Endpoint => $"http://127.0.0.1:{Port}";

    public IReadOnlyList<ExportedSpan> Spans
    {
        get
        {
            lock (_spans)
                return [.. _spans];
        }
    }

    private async Task ReceiveAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            if (context.Request.Url!.AbsolutePath == "/v1/traces")
            {
                var spans = OtlpSpans.Read(body.ToArray());
                lock (_spans)
                    _spans.AddRange(spans);
            }

            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Close();
        _receiving.Wait(TimeSpan.FromSeconds(5));
    }
}

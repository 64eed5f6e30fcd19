using System.Net;
using System.Text;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Management;

/// Telemetry:OtlpEndpoint pushes the `Kirisame` meter to a collector; here a stand-in that records what is posted.
public sealed class OtlpExportTests
{
    [Fact]
    public async Task Metrics_ArePushedToTheCollector_OverHttpProtobuf()
    {
        using var collector = LoopbackHttpListener.Start(out var port);
        var received = ReceiveExportAsync(collector);

        await using var server = await KirisameProcess.StartAsync(["--Telemetry:OtlpEndpoint", $"http://127.0.0.1:{port}",
            "--Telemetry:OtlpProtocol", "HttpProtobuf", "--Telemetry:ExportInterval", "00:00:01"]);

        var (path, body) = await Poll.WithTimeout(received, TimeSpan.FromSeconds(30), "an OTLP export");
        Assert.Equal("/v1/metrics", path);
        Assert.Contains("kirisame.messages.received", body, StringComparison.Ordinal);
        Assert.Contains("kirisame.sessions", body, StringComparison.Ordinal);
    }

    /// The first export that carries the broker's instruments (protobuf keeps names as plain UTF-8).
    private static async Task<(string Path, string Body)> ReceiveExportAsync(HttpListener collector)
    {
        while (true)
        {
            var context = await collector.GetContextAsync();
            using var reader = new StreamReader(context.Request.InputStream, Encoding.Latin1);
            var body = await reader.ReadToEndAsync();
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
            if (body.Contains("kirisame.", StringComparison.Ordinal))
                return (context.Request.Url!.AbsolutePath, body);
        }
    }
}

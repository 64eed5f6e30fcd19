using System.Net;
using System.Net.Sockets;
using Kirisame.Testing;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Management;

/// POST/DELETE/PUT /api/v1/listeners (ADR 0019) against the real server: listeners come and go without a
/// restart while the clients of the others stay connected.
public sealed class LiveListenerTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    [Fact]
    public async Task TlsListener_AddedThroughTheApi_ServesMosquitto_AndOnceStoppedRefuses_WhileOtherClientsStay()
    {
        await using var broker = await ManagedBroker.StartAsync(withCredentials: true);
        var topic = Unique.Topic("live");
        await using var subscriber = await MqttNetClient.ConnectAsync(broker.MqttPort, MqttProtocolVersion.V500,
            configure: b => b.WithCleanStart(false).WithSessionExpiryInterval(300));
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
        var port = FreePort.GetLoopbackPort();

        var added = await broker.SendAsync(HttpMethod.Post, "/api/v1/listeners",
            new { name = "live-tls", protocol = "mqtts", port, certificate = _certificates.ServerCertificate, privateKey = _certificates.ServerKey });
        Assert.True(added.Status == HttpStatusCode.Created, $"{(int)added.Status} {added.Body}");
        var listed = await broker.GetJsonAsync("/api/v1/listeners", Caller.Viewer);
        Assert.Contains(listed.EnumerateArray(), l => l.GetProperty("name").GetString() == "live-tls" && l.GetProperty("protocol").GetString() == "mqtts");

        var published = await MosquittoClients.PublishAsync(port, topic, "over tls", qos: 1, extra: ["--cafile", _certificates.CaFile]);
        Assert.True(published.ExitCode == 0, published.ToString());
        var received = await subscriber.WaitForMessagesAsync(1);
        Assert.Equal("over tls", received[0].Payload);

        var stopped = await broker.SendAsync(HttpMethod.Delete, "/api/v1/listeners/live-tls");
        Assert.Equal(HttpStatusCode.NoContent, stopped.Status);
        var refused = await MosquittoClients.PublishAsync(port, topic, "too late", qos: 1, extra: ["--cafile", _certificates.CaFile]);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.False(await Accepts(port), "the stopped listener's port still accepts connections");
        listed = await broker.GetJsonAsync("/api/v1/listeners");
        Assert.DoesNotContain(listed.EnumerateArray(), l => l.GetProperty("name").GetString() == "live-tls");

        // The client on the configured listener never noticed.
        Assert.True(subscriber.Client.IsConnected);
        await subscriber.PingAsync();
        Assert.False(subscriber.Disconnected.IsCompleted);
        Assert.Single(subscriber.Messages);
    }

    [Fact]
    public async Task BadListenerRequests_AreProblems_AndChangeNothing()
    {
        await using var broker = await ManagedBroker.StartAsync(withCredentials: true);
        var before = (await broker.GetJsonAsync("/api/v1/listeners")).GetArrayLength();

        ProblemAssert.Is(HttpStatusCode.Conflict, await broker.SendAsync(HttpMethod.Post, "/api/v1/listeners",
            new { name = "taken-port", protocol = "mqtt", port = broker.MqttPort }), "cannot listen on");
        ProblemAssert.Is(HttpStatusCode.UnprocessableEntity, await broker.SendAsync(HttpMethod.Post, "/api/v1/listeners",
            new { name = "no-cert", protocol = "mqtts", port = FreePort.GetLoopbackPort(), certificate = Path.Combine(_certificates.Directory, "missing.pem") }),
            "does not exist");
        ProblemAssert.Is(HttpStatusCode.UnprocessableEntity, await broker.SendAsync(HttpMethod.Post, "/api/v1/listeners",
            new { name = "web", protocol = "ws", port = FreePort.GetLoopbackPort() }), "mqtt or mqtts");
        ProblemAssert.Is(HttpStatusCode.UnprocessableEntity, await broker.SendAsync(HttpMethod.Post, "/api/v1/listeners",
            new { name = "open", protocol = "mqtt", port = FreePort.GetLoopbackPort(), bindAddress = "0.0.0.0" }), "reachable from the network");
        // The default listener is "tcp" (compared as configuration keys are: case aside).
        ProblemAssert.Is(HttpStatusCode.Conflict, await broker.SendAsync(HttpMethod.Post, "/api/v1/listeners",
            new { name = "TCP", protocol = "mqtt", port = FreePort.GetLoopbackPort() }), "exists");
        ProblemAssert.Is(HttpStatusCode.Conflict, await broker.SendAsync(HttpMethod.Delete, "/api/v1/listeners/tcp"), "configuration");
        ProblemAssert.Is(HttpStatusCode.NotFound, await broker.SendAsync(HttpMethod.Delete, "/api/v1/listeners/nothing"));
        var port = FreePort.GetLoopbackPort();
        Assert.Equal(HttpStatusCode.Forbidden, (await broker.SendAsync(HttpMethod.Post, "/api/v1/listeners",
            new { name = "viewer-made", protocol = "mqtt", port }, Caller.Viewer)).Status);

        Assert.Equal(before, (await broker.GetJsonAsync("/api/v1/listeners")).GetArrayLength());
        Assert.False(await Accepts(port));
    }

    [Fact]
    public async Task TlsFiles_ChangedThroughTheApi_AreUsedByTheNextHandshake()
    {
        await using var broker = await ManagedBroker.StartAsync(withCredentials: false);
        var port = FreePort.GetLoopbackPort();
        var added = await broker.SendAsync(HttpMethod.Post, "/api/v1/listeners",
            new { name = "rekeyed", protocol = "mqtts", port, certificate = _certificates.ServerCertificate, privateKey = _certificates.ServerKey });
        Assert.Equal(HttpStatusCode.Created, added.Status);
        using var other = new TestCertificates("Another CA");
        var changed = await broker.SendAsync(HttpMethod.Put, "/api/v1/listeners/rekeyed/tls",
            new { certificate = other.ServerCertificate, privateKey = other.ServerKey });
        Assert.Equal(HttpStatusCode.NoContent, changed.Status);

        var oldCa = await MosquittoClients.PublishAsync(port, "rekeyed", "x", extra: ["--cafile", _certificates.CaFile]);
        Assert.NotEqual(0, oldCa.ExitCode); // the server now presents a certificate the old CA did not sign
        var newCa = await MosquittoClients.PublishAsync(port, "rekeyed", "x", extra: ["--cafile", other.CaFile]);
        Assert.True(newCa.ExitCode == 0, newCa.ToString());

        ProblemAssert.Is(HttpStatusCode.UnprocessableEntity, await broker.SendAsync(HttpMethod.Put, "/api/v1/listeners/rekeyed/tls",
            new { certificate = other.CaFile }), "cannot load");
        var still = await MosquittoClients.PublishAsync(port, "rekeyed", "x", extra: ["--cafile", other.CaFile]);
        Assert.True(still.ExitCode == 0, still.ToString());
        ProblemAssert.Is(HttpStatusCode.Conflict, await broker.SendAsync(HttpMethod.Put, "/api/v1/listeners/tcp/tls",
            new { certificate = other.ServerCertificate, privateKey = other.ServerKey }), "does not use TLS");
    }

    private static async Task<bool> Accepts(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public void Dispose() => _certificates.Dispose();
}

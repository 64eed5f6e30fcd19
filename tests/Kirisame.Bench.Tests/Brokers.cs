using Kirisame.Testing;

namespace Kirisame.Bench.Tests;

/// Debian's Mosquitto on a free loopback port, once for all engine tests. Missing mosquitto fails the tests
/// with a message saying how to install it (CI installs it); nothing is skipped.
public sealed class MosquittoFixture : IAsyncLifetime
{
    private MosquittoProcess? _mosquitto;

    public int Port => Broker.Port;

    public int ProcessId => Broker.Process.Id;

    private MosquittoProcess Broker => _mosquitto ?? throw new InvalidOperationException("mosquitto has not started.");

    public async Task InitializeAsync()
        => _mosquitto = await MosquittoProcess.StartAsync([
            "set_tcp_nodelay true",
            // By default Mosquitto drops QoS 1/2 messages beyond 1 000 queued for one client, which an
            // unthrottled fan-in reaches; these tests check the generator's loss accounting, so the broker
            // must not lose anything by policy.
            "max_queued_messages 0",
            // Mosquitto takes at most this many QoS 2 publishes in flight from a 3.1.1 client (default 20) and
            // beyond it closes the connection (with max_queued_messages 0) or acknowledges and never delivers
            // them (with a queue limit); the generator keeps 64 in flight by default.
            "max_inflight_messages 100",
            "log_type error",
        ]);

    public async Task DisposeAsync()
    {
        if (_mosquitto is not null)
            await _mosquitto.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class MosquittoCollection : ICollectionFixture<MosquittoFixture>
{
    public const string Name = "mosquitto";
}

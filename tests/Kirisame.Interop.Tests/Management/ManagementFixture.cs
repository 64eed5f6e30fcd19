namespace Kirisame.Interop.Tests.Management;

/// One server with admin users and tokens for a test class; each test uses its own client ids and topics.
public sealed class ManagementFixture : IAsyncLifetime
{
    internal ManagedBroker Broker { get; private set; } = null!;

    public async Task InitializeAsync() => Broker = await ManagedBroker.StartAsync(withCredentials: true, "--Broker:MaxQueuedMessages", "3",
        // A password in the configuration, which /api/v1/configuration must not show.
        "--Authentication:Scram:Users:carol", "carol-secret");

    public async Task DisposeAsync() => await Broker.DisposeAsync();
}

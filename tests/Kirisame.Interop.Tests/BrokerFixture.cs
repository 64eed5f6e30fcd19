using Kirisame.Testing;

namespace Kirisame.Interop.Tests;

/// One broker process per test class (see TestBroker for choosing Kirisame or Mosquitto).
public sealed class BrokerFixture : IAsyncLifetime
{
    private IBrokerProcess? _broker;

    public IBrokerProcess Broker => _broker ?? throw new InvalidOperationException("The broker has not started.");

    public int Port => Broker.Port;

    public async Task InitializeAsync() => _broker = await TestBroker.StartAsync();

    public async Task DisposeAsync()
    {
        if (_broker is not null)
            await _broker.DisposeAsync();
    }
}

/// The real `kirisame` process, configured for the MQTT 5 features that need it (a Response Information
/// prefix and a SCRAM user). Always Kirisame: Mosquitto has neither.
public sealed class KirisameV5Fixture : IAsyncLifetime
{
    public const string ResponseInformationPrefix = "responses/";
    public const string ScramUser = "alice";
    public const string ScramPassword = "correct horse battery staple";

    private KirisameProcess? _broker;

    public KirisameProcess Broker => _broker ?? throw new InvalidOperationException("The broker has not started.");

    public int Port => Broker.Port;

    public async Task InitializeAsync() => _broker = await KirisameProcess.StartAsync(
    [
        "--Broker:SysInterval", "0",
        "--Broker:ResponseInformationPrefix", ResponseInformationPrefix,
        $"--Authentication:Scram:Users:{ScramUser}", ScramPassword,
    ]);

    public async Task DisposeAsync()
    {
        if (_broker is not null)
            await _broker.DisposeAsync();
    }
}

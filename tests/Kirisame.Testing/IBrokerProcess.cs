namespace Kirisame.Testing;

/// A broker running in its own process on a loopback port: Kirisame, or Mosquitto as the reference.
public interface IBrokerProcess : IAsyncDisposable
{
    public string Name { get; }

    public int Port { get; }

    /// The process's command line and output, for assertion messages.
    public string Describe();
}

public static class TestBroker
{
    public const string SelectorVariable = "KIRISAME_TEST_BROKER";

    /// The broker the interop tests talk to: kirisame unless KIRISAME_TEST_BROKER=mosquitto, which runs the
    /// same tests against Mosquitto to check the tests themselves. $SYS is published every second.
    public static async Task<IBrokerProcess> StartAsync()
    {
        var kind = Environment.GetEnvironmentVariable(SelectorVariable);
        if (string.Equals(kind, "mosquitto", StringComparison.OrdinalIgnoreCase))
            return await MosquittoProcess.StartAsync(["sys_interval 1"]);
        return await KirisameProcess.StartAsync(["--Broker:SysInterval", "1"]);
    }

    public static bool IsMosquitto =>
        string.Equals(Environment.GetEnvironmentVariable(SelectorVariable), "mosquitto", StringComparison.OrdinalIgnoreCase);
}

using Kirisame.Testing;

namespace Kirisame.Packaging.Tests;

/// What "it works" means for a package: mosquitto_sub receives what mosquitto_pub sent through the broker.
internal static class RoundTrip
{
    public static async Task AssertAsync(KirisameProcess broker)
    {
        await using var subscriber = MosquittoClients.StartSubscriber(broker.Port, "packaging/test", qos: 1, "mqttv5", "-C", "1");
        await MosquittoClients.WaitUntilSubscribedAsync(subscriber);
        var published = await MosquittoClients.PublishAsync(broker.Port, "packaging/test", "hello from the package", qos: 1, "mqttv5");
        Assert.True(published.ExitCode == 0, published.ToString());
        var line = await subscriber.WaitForLineAsync(l => l == "packaging/test hello from the package", MosquittoClients.DefaultTimeout);
        Assert.True(line is not null, $"{subscriber.Describe()}\n{broker.Describe()}");
    }
}

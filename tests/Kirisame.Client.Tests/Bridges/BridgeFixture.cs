using System.Globalization;
using System.Text.Json;
using Kirisame.Client;
using Kirisame.Protocol;
using Kirisame.Testing;

namespace Kirisame.Client.Tests.Bridges;

/// A kirisame process with a bridge from a JSON configuration file, and what the bridge tests wait for.
internal static class BridgeFixture
{
    public static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);

    /// Writes {"Bridges": {name: bridge}} to a temporary file; the caller deletes the folder.
    public static string WriteConfiguration(string directory, string name, object bridge)
    {
        var path = Path.Combine(directory, "kirisame.json");
        File.WriteAllText(path, JsonSerializer.Serialize(new Dictionary<string, object> { ["Bridges"] = new Dictionary<string, object> { [name] = bridge } }));
        return path;
    }

    public static Task<KirisameProcess> StartAsync(string configuration, params string[] extra) =>
        KirisameProcess.StartAsync(["--config", configuration, .. extra]);

    public static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    public static async Task<MqttClient> ConnectAsync(int port, ProtocolVersion version = ProtocolVersion.V500, string? clientId = null, bool persistent = false) =>
        await MqttClient.ConnectAsync(new MqttClientOptions
        {
            Server = MqttServerAddress.Parse($"127.0.0.1:{port}"),
            ProtocolVersion = version,
            ClientId = clientId ?? "t-" + Guid.NewGuid().ToString("N")[..12],
            CleanStart = !persistent,
            SessionExpiryInterval = persistent ? 3600u : 0,
        });

    /// Waits until the bridge says "1" on its notification topic of the local broker.
    public static Task WaitConnectedAsync(int localPort, string notificationTopic, KirisameProcess server) =>
        WaitStateAsync(localPort, notificationTopic, server, "1");

    /// Waits for "1" (connected) or "0" (not, and its local session ready to queue) on the notification topic.
    public static async Task WaitStateAsync(int localPort, string notificationTopic, KirisameProcess server, string state)
    {
        await using var watcher = await ConnectAsync(localPort);
        await watcher.SubscribeAsync(notificationTopic);
        using var cts = new CancellationTokenSource(WaitLimit);
        try
        {
            await foreach (var message in watcher.Messages.ReadAllAsync(cts.Token))
            {
                if (System.Text.Encoding.UTF8.GetString(message.Payload.Span) == state)
                    return;
            }
        }
        catch (OperationCanceledException)
        {
        }

        throw new TimeoutException($"the bridge never reported '{state}' on {notificationTopic}.\n{server.Describe()}");
    }

    public static async Task<MqttMessage> NextAsync(MqttClient client, string what)
    {
        try
        {
            return await client.Messages.ReadAsync().AsTask().WaitAsync(WaitLimit);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"no message: {what}");
        }
    }
}

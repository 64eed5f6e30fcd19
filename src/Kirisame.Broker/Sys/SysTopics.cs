using System.Globalization;
using Kirisame.Broker.Clients;
using Kirisame.Broker.Diagnostics;
using Kirisame.Protocol;

namespace Kirisame.Broker.Sys;

/// $SYS/broker/…: the broker's statistics as retained messages, in Mosquitto's names, published by an in-process
/// client of the broker's own — the same path, authorization aside, as any other publisher.
internal sealed class SysTopics
{
    /// U+0000 is never in a network client's id [MQTT-1.5.4-2], so no CONNECT can take this session over.
    private const string ClientId = "\0kirisame/$SYS";

    private readonly MqttBroker _broker;
    private readonly InProcessClient _client;
    private readonly LoadAverage _receivedLoad = new();
    private readonly LoadAverage _sentLoad = new();
    private readonly LoadAverage _connectionsLoad = new();
    private readonly TenantSysTopics _tenants;

    private SysTopics(MqttBroker broker, InProcessClient client)
    {
        _broker = broker;
        _client = client;
        _tenants = new TenantSysTopics(Value);
    }

    public static SysTopics Connect(MqttBroker broker)
    {
        var connecting = InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = ClientId, IsBroker = true });
        // Completes at once: nothing else can hold the id, so there is no takeover to wait for.
        return new SysTopics(broker, connecting.GetAwaiter().GetResult());
    }

    public void Publish(double elapsedSeconds)
    {
        if (!_client.IsConnected)
            return; // the broker is stopping
        var s = _broker.Statistics;
        _receivedLoad.Update(Interlocked.Read(ref s.MessagesReceived), elapsedSeconds);
        _sentLoad.Update(Interlocked.Read(ref s.MessagesSent), elapsedSeconds);
        _connectionsLoad.Update(Interlocked.Read(ref s.ConnectionsTotal), elapsedSeconds);
        var connected = Interlocked.Read(ref s.ClientsConnected);
        var sessions = _broker.SessionCount - 1; // not our own
        Value("version", "kirisame " + MqttBroker.Version);
        Value("uptime", $"{(long)_broker.TimeProvider.GetElapsedTime(_broker.StartedAtTicks).TotalSeconds} seconds");
        Value("clients/connected", connected);
        Value("clients/active", connected);
        Value("clients/total", Math.Max(sessions, connected));
        Value("clients/disconnected", Math.Max(0, sessions - connected));
        Value("clients/maximum", Interlocked.Read(ref s.ClientsMaximum));
        Value("messages/received", Interlocked.Read(ref s.MessagesReceived));
        Value("messages/sent", Interlocked.Read(ref s.MessagesSent));
        Value("messages/dropped", Interlocked.Read(ref s.MessagesDropped));
        Value("publish/messages/dropped", Interlocked.Read(ref s.MessagesDropped));
        Value("bytes/received", Interlocked.Read(ref s.BytesReceived));
        Value("bytes/sent", Interlocked.Read(ref s.BytesSent));
        Load("messages/received", _receivedLoad);
        Load("messages/sent", _sentLoad);
        Load("connections", _connectionsLoad);
        Value("subscriptions/count", _broker.Subscriptions.Count);
        // Managed heap in use and committed (Mosquitto reports its heap as heap/current).
        Value("heap/current", GC.GetTotalMemory(forceFullCollection: false));
        Value("heap/committed", GC.GetGCMemoryInfo().TotalCommittedBytes);
        Value("retained messages/count", _broker.Retained.Count);
        // Kirisame's own: the budget for large packets still arriving (Broker:MaxPartialPacketBytes).
        var partial = _broker.PartialPackets;
        Value("packets/partial/bytes", partial.Reserved);
        Value("packets/partial/waiting", partial.Waiting);
        Value("packets/partial/timeouts", partial.TimedOut);
        // The operator's core alone has tenants: every tenant's figures, in its $SYS only.
        if (_broker.Tenants is { } tenants)
            _tenants.Publish(tenants.List());
    }

    private void Load(string name, LoadAverage load)
    {
        Value($"load/{name}/1min", load.OneMinute.ToString("F2", CultureInfo.InvariantCulture));
        Value($"load/{name}/5min", load.FiveMinutes.ToString("F2", CultureInfo.InvariantCulture));
        Value($"load/{name}/15min", load.FifteenMinutes.ToString("F2", CultureInfo.InvariantCulture));
    }

    private void Value(string name, long value) => Value(name, value.ToString(CultureInfo.InvariantCulture));

    private void Value(string name, string value)
    {
        try
        {
            _client.Publish("$SYS/broker/" + name, System.Text.Encoding.UTF8.GetBytes(value), QualityOfService.AtMostOnce, retain: true, default);
        }
        catch (InvalidOperationException)
        {
            // Disconnected meanwhile: the broker is stopping.
        }
    }
}

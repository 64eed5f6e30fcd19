using System.Buffers;
using System.Text;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Diagnostics.PacketInspection;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests;

/// An MQTTnet client with an inbox and a record of how it was disconnected.
internal sealed class MqttNetClient : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private readonly List<ReceivedMessage> _messages = [];
    private readonly List<MqttApplicationMessage> _applicationMessages = [];
    private readonly Queue<MqttApplicationMessageReceivedEventArgs> _unacknowledged = [];
    private int _inboundPublishPackets;
    private readonly TaskCompletionSource<MqttClientDisconnectedEventArgs> _disconnected =
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    private MqttNetClient(IMqttClient client)
    {
        Client = client;
        client.ApplicationMessageReceivedAsync += e =>
        {
            var message = e.ApplicationMessage;
            // The payload may live in a buffer MQTTnet reuses once the handler returns; keep a copy.
            message.Payload = new ReadOnlySequence<byte>(message.Payload.ToArray());
            lock (_messages)
            {
                _messages.Add(new ReceivedMessage(message.Topic, Encoding.UTF8.GetString(message.Payload),
                    message.QualityOfServiceLevel, message.Retain));
                _applicationMessages.Add(message);
                if (HoldAcknowledgements)
                {
                    e.AutoAcknowledge = false;
                    _unacknowledged.Enqueue(e);
                }
            }
            return Task.CompletedTask;
        };
        client.InspectPacketAsync += e =>
        {
            // Runs as each packet is read, before MQTTnet dispatches it: PUBLISH has packet type 3.
            if (e.Direction == MqttPacketFlowDirection.Inbound && e.Buffer.Length > 0 && e.Buffer[0] >> 4 == 3)
                Interlocked.Increment(ref _inboundPublishPackets);
            return Task.CompletedTask;
        };
        client.DisconnectedAsync += e =>
        {
            if (e.ClientWasConnected)
                _disconnected.TrySetResult(e);
            return Task.CompletedTask;
        };
    }

    public IMqttClient Client { get; }

    public MqttClientConnectResult? ConnectResult { get; private set; }

    /// Completes when the broker ends the connection (the event carries the v5 reason code).
    public Task<MqttClientDisconnectedEventArgs> Disconnected => _disconnected.Task;

    /// PUBLISH packets read from the socket so far, counted before MQTTnet hands them to the application.
    /// After <see cref="PingAsync"/> this includes everything the broker sent before its PINGRESP.
    public int InboundPublishPackets => Volatile.Read(ref _inboundPublishPackets);

    /// When set, received QoS 1/2 messages are not acknowledged until <see cref="AcknowledgeOldestAsync"/>.
    public bool HoldAcknowledgements { get; set; }

    /// The received messages with every MQTT 5 property MQTTnet exposes.
    public IReadOnlyList<MqttApplicationMessage> ApplicationMessages
    {
        get
        {
            lock (_messages)
                return [.. _applicationMessages];
        }
    }

    public async Task AcknowledgeOldestAsync()
    {
        MqttApplicationMessageReceivedEventArgs oldest;
        lock (_messages)
            oldest = _unacknowledged.Dequeue();
        using var cts = new CancellationTokenSource(Timeout);
        await oldest.AcknowledgeAsync(cts.Token);
    }

    public IReadOnlyList<ReceivedMessage> Messages
    {
        get
        {
            lock (_messages)
                return [.. _messages];
        }
    }

    public static async Task<MqttNetClient> ConnectAsync(int port, MqttProtocolVersion version, string? clientId = null,
        Action<MqttClientOptionsBuilder>? configure = null)
    {
        return await ConnectAsync(builder => builder.WithTcpServer("127.0.0.1", port), version, clientId, configure);
    }

    /// Like ConnectAsync(port, …), with the channel (TCP, TLS, WebSocket) chosen by <paramref name="server"/>.
    public static async Task<MqttNetClient> ConnectAsync(Action<MqttClientOptionsBuilder> server, MqttProtocolVersion version,
        string? clientId = null, Action<MqttClientOptionsBuilder>? configure = null)
    {
        var client = await TryConnectAsync(server, version, clientId, configure);
        if (client.ConnectResult!.ResultCode != MqttClientConnectResultCode.Success)
        {
            var result = client.ConnectResult;
            await client.DisposeAsync();
            Assert.Fail($"CONNACK refused the connection: {result.ResultCode} {result.ReasonString}");
        }
        return client;
    }

    /// Connects and returns the client whatever the CONNACK says; ConnectResult holds the answer.
    public static Task<MqttNetClient> TryConnectAsync(int port, MqttProtocolVersion version, string? clientId = null,
        Action<MqttClientOptionsBuilder>? configure = null) =>
        TryConnectAsync(builder => builder.WithTcpServer("127.0.0.1", port), version, clientId, configure);

    public static async Task<MqttNetClient> TryConnectAsync(Action<MqttClientOptionsBuilder> server, MqttProtocolVersion version,
        string? clientId = null, Action<MqttClientOptionsBuilder>? configure = null)
    {
        var client = new MqttNetClient(new MqttClientFactory().CreateMqttClient());
        var builder = new MqttClientOptionsBuilder();
        server(builder);
        builder
            .WithProtocolVersion(version)
            .WithClientId(clientId ?? Unique.ClientId("mqttnet"))
            .WithTimeout(Timeout);
        configure?.Invoke(builder);
        using var cts = new CancellationTokenSource(Timeout);
        client.ConnectResult = await client.Client.ConnectAsync(builder.Build(), cts.Token);
        return client;
    }

    /// Closes the socket without DISCONNECT, as a crashed client would: the broker sees an abnormal end.
    public void Drop() => Client.Dispose();

    /// A PINGREQ/PINGRESP round trip. The broker answers on the same ordered connection it sends PUBLISH
    /// on, so anything it sent before answering has arrived when this returns.
    public async Task PingAsync()
    {
        using var cts = new CancellationTokenSource(Timeout);
        await Client.PingAsync(cts.Token);
    }

    public async Task SubscribeAsync(string topicFilter, MqttQualityOfServiceLevel qos)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var result = await Client.SubscribeAsync(
            new MqttClientSubscribeOptionsBuilder().WithTopicFilter(topicFilter, qos).Build(), cts.Token);
        var granted = Assert.Single(result.Items).ResultCode;
        Assert.Equal((int)qos, (int)granted);
    }

    public async Task<MqttClientPublishResult> PublishAsync(string topic, string payload, MqttQualityOfServiceLevel qos,
        bool retain = false)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(qos)
            .WithRetainFlag(retain)
            .Build();
        var result = await Client.PublishAsync(message, cts.Token);
        Assert.True(result.IsSuccess, $"PUBLISH {topic} at {qos} was refused: {result.ReasonCode} {result.ReasonString}");
        return result;
    }

    /// Waits until count messages have arrived; fails with what did arrive otherwise.
    public async Task<IReadOnlyList<ReceivedMessage>> WaitForMessagesAsync(int count)
    {
        if (!await Poll.UntilAsync(() => Messages.Count >= count, Timeout))
            Assert.Fail($"Expected {count} message(s) within {Timeout.TotalSeconds} s, got {Messages.Count}: {string.Join("; ", Messages)}");
        return Messages;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Client.IsConnected)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await Client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), cts.Token);
            }
        }
        catch (Exception ex) when (ex is MqttCommunicationException or OperationCanceledException or InvalidOperationException)
        {
            // Already gone; nothing to clean up on the broker.
        }
        Client.Dispose();
    }
}

internal sealed record ReceivedMessage(string Topic, string Payload, MqttQualityOfServiceLevel QoS, bool Retain);

using System.Text;
using MQTTnet;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests;

/// An MQTTnet client with an inbox and a record of how it was disconnected.
internal sealed class MqttNetClient : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private readonly List<ReceivedMessage> _messages = [];
    private readonly TaskCompletionSource<MqttClientDisconnectedEventArgs> _disconnected =
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    private MqttNetClient(IMqttClient client)
    {
        Client = client;
        client.ApplicationMessageReceivedAsync += e =>
        {
            var message = e.ApplicationMessage;
            lock (_messages)
            {
                _messages.Add(new ReceivedMessage(message.Topic, Encoding.UTF8.GetString(message.Payload),
                    message.QualityOfServiceLevel, message.Retain));
            }
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
        var client = new MqttNetClient(new MqttClientFactory().CreateMqttClient());
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithProtocolVersion(version)
            .WithClientId(clientId ?? Unique.ClientId("mqttnet"))
            .WithTimeout(Timeout);
        configure?.Invoke(builder);
        using var cts = new CancellationTokenSource(Timeout);
        client.ConnectResult = await client.Client.ConnectAsync(builder.Build(), cts.Token);
        return client;
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
        if (!await Kirisame.Testing.Poll.UntilAsync(() => Messages.Count >= count, Timeout))
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

using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests;

/// A reconnect storm: rounds of connects with one client id at once, each taking over the one before it [MQTT-3.1.4-3]
/// while others still connect, drop their sockets or disconnect. Whatever order the broker handles them in, the
/// persistent session (Clean Session 0) is one session throughout: it keeps its subscription, and the client that
/// connects last is the one that receives.
public sealed class SessionTakeoverStormTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private const int Rounds = 5;
    private const int ConnectsPerRound = 8;

    private int Port => fixture.Port;

    public static TheoryData<MqttProtocolVersion> Versions() => new(MqttProtocolVersion.V311, MqttProtocolVersion.V500);

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task ReconnectStorm_WithOneClientId_KeepsThePersistentSessionAndItsSubscription(MqttProtocolVersion version)
    {
        var clientId = Unique.ClientId("storm");
        var topic = Unique.Topic($"storm-{version}");
        void Persistent(MqttClientOptionsBuilder options)
        {
            if (version == MqttProtocolVersion.V500)
                options.WithCleanStart(false).WithSessionExpiryInterval(300);
            else
                options.WithCleanSession(false);
        }

        await using (var first = await MqttNetClient.ConnectAsync(Port, version, clientId, Persistent))
            await first.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);

        for (var round = 0; round < Rounds; round++)
        {
            var clients = await Task.WhenAll(Enumerable.Range(0, ConnectsPerRound).Select(_ => TryConnectAsync(version, clientId, Persistent)));
            for (var i = 0; i < clients.Length; i++)
            {
                // Half leave as a crashed client would, half with DISCONNECT; those already taken over are closed.
                if (clients[i] is not { } client)
                    continue;
                if (i % 2 == 0)
                    client.Drop();
                else
                    await client.DisposeAsync();
            }
        }

        await using var last = await MqttNetClient.ConnectAsync(Port, version, clientId, Persistent);
        Assert.True(last.ConnectResult!.IsSessionPresent, "the session should have survived the storm: " + fixture.Broker.Describe());
        await using (var publisher = await MqttNetClient.ConnectAsync(Port, version))
            await publisher.PublishAsync(topic, "after the storm", MqttQualityOfServiceLevel.AtLeastOnce);
        var message = Assert.Single(await last.WaitForMessagesAsync(1));
        Assert.Equal(new ReceivedMessage(topic, "after the storm", MqttQualityOfServiceLevel.AtLeastOnce, Retain: false), message);

        // Leave no session behind on a shared broker.
        if (version == MqttProtocolVersion.V500)
        {
            await last.Client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithSessionExpiryInterval(0).Build());
        }
        else
        {
            await using var clean = await MqttNetClient.ConnectAsync(Port, version, clientId, o => o.WithCleanSession(true));
        }
    }

    /// A connect of the storm: one overtaken by a newer connect with the same id before its CONNACK is closed
    /// without one, which MQTTnet reports by throwing.
    private async Task<MqttNetClient?> TryConnectAsync(MqttProtocolVersion version, string clientId, Action<MqttClientOptionsBuilder> configure)
    {
        try
        {
            return await MqttNetClient.TryConnectAsync(Port, version, clientId, configure);
        }
        catch (MqttCommunicationException)
        {
            return null;
        }
    }
}

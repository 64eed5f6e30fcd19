using System.Collections.Concurrent;
using System.Net;
using Kirisame.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests;

/// What clients can make the broker log is written once a minute per kind and address, then summed up: a flood
/// of garbage cannot fill the disk with log lines.
public sealed class LogFloodTests
{
    private sealed class Lines : ILoggerFactory, ILogger
    {
        public ConcurrentQueue<string> All { get; } = new();

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                All.Enqueue(formatter(state, exception));
        }
    }

    private static ConnectionInfo From(string address) =>
        new("flood-" + Guid.NewGuid().ToString("N")[..6], new IPEndPoint(IPAddress.Parse(address), 40000), null);

    private static async Task SendGarbageAsync(MqttBroker broker, string address)
    {
        // A SUBSCRIBE before CONNECT: the connection is closed with a log line [MQTT-3.1.0-1].
        await using var client = new TestClient(broker, ProtocolVersion.V311, info: From(address));
        await client.SendRawAsync([0x82, 0x06, 0x00, 0x01, 0x00, 0x01, (byte)'a', 0x00]);
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task GarbageBeforeConnect_IsLoggedWithTheConnectionsName()
    {
        var lines = new Lines();
        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0 }, lines);
        var info = From("192.0.2.9");
        await using var client = new TestClient(broker, ProtocolVersion.V311, info: info);
        await client.SendRawAsync([0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]); // a remaining length past four bytes
        await client.ExpectClosedAsync();

        var line = Assert.Single(lines.All, l => l.Contains("192.0.2.9", StringComparison.Ordinal));
        Assert.StartsWith($"Connection {info.ConnectionId} (192.0.2.9:40000) sent a bad framing", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFloodFromOneAddress_IsOneLineAMinute_ThenASummary()
    {
        var time = new FakeTimeProvider();
        var lines = new Lines();
        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0 }, lines, time);
        for (var i = 0; i < 50; i++)
            await SendGarbageAsync(broker, "192.0.2.7");
        await SendGarbageAsync(broker, "192.0.2.8");

        Assert.Equal(1, lines.All.Count(l => l.Contains("192.0.2.7", StringComparison.Ordinal)));
        Assert.Equal(1, lines.All.Count(l => l.Contains("192.0.2.8", StringComparison.Ordinal))); // its own line

        time.Advance(TimeSpan.FromSeconds(30));
        broker.Housekeep();
        Assert.DoesNotContain(lines.All, l => l.Contains("more", StringComparison.Ordinal)); // the minute is not over

        time.Advance(TimeSpan.FromSeconds(31));
        broker.Housekeep();
        Assert.Contains("49 more 'packet before CONNECT' from 192.0.2.7 in the last minute", lines.All);
        Assert.DoesNotContain(lines.All, l => l.Contains("more 'packet before CONNECT' from 192.0.2.8", StringComparison.Ordinal)); // nothing held back

        // A new minute: the next one is written again.
        await SendGarbageAsync(broker, "192.0.2.7");
        Assert.Equal(3, lines.All.Count(l => l.Contains("192.0.2.7", StringComparison.Ordinal)));
    }
}

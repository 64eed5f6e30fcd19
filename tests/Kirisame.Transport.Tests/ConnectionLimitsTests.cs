using System.Net;
using Kirisame.Transport.Listeners;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Transport.Tests;

public sealed class ConnectionLimitsTests
{
    private static readonly IPEndPoint s_remote = new(IPAddress.Loopback, 50_000);

    [Fact]
    public void Refusals_AreCountedByCause_AndLoggedOnceThenSummedUpPerInterval()
    {
        var time = new FakeTimeProvider();
        var log = new ListLogger();
        var limits = new ConnectionLimits(new TransportOptions(), maxConnections: 2, time, log);
        var listener = new MqttListener(new ListenerOptions { Name = "tcp" }, tls: null);

        Assert.Null(limits.TryAdmit(listener, s_remote));
        Assert.Null(limits.TryAdmit(listener, s_remote));
        for (var i = 0; i < 6; i++)
            Assert.Equal("Transport:MaxConnections (2) reached", limits.TryAdmit(listener, s_remote));

        Assert.Equal(6, limits.Refused(RefusalCause.MaxConnections));
        Assert.Equal(0, limits.Refused(RefusalCause.ConnectRate));
        Assert.Equal(2, limits.Open);
        // The first refusal at once, the other five in one line when the minute is over.
        var first = Assert.Single(log.Lines);
        Assert.StartsWith("Refused a connection: Transport:MaxConnections (2) reached", first, StringComparison.Ordinal);
        time.Advance(ThrottledWarning.DefaultInterval);
        Assert.Equal("5 connections refused in the last minute: Transport:MaxConnections (2) reached", log.Lines[^1]);

        // A quiet minute ends the summaries; the next refusal is news again.
        time.Advance(ThrottledWarning.DefaultInterval);
        Assert.Equal(2, log.Lines.Count);
        limits.Release(listener);
        Assert.Null(limits.TryAdmit(listener, s_remote));
        Assert.NotNull(limits.TryAdmit(listener, s_remote));
        Assert.Equal(3, log.Lines.Count);
        Assert.Equal(7, limits.Refused(RefusalCause.MaxConnections));
    }

    [Fact]
    public void NoBudget_AdmitsEveryone()
    {
        var limits = new ConnectionLimits(new TransportOptions(), maxConnections: 0, new FakeTimeProvider(), new ListLogger());
        var listener = new MqttListener(new ListenerOptions { Name = "tcp" }, tls: null);

        for (var i = 0; i < 1_000; i++)
            Assert.Null(limits.TryAdmit(listener, s_remote));
        Assert.Equal(0, limits.Refused(RefusalCause.MaxConnections));
    }
}

using Kirisame.Protocol;

namespace Kirisame.Bench.Tests;

public sealed class ArgumentsTests
{
    [Fact]
    public void Parse_ReadsEveryOption()
    {
        var a = BenchArguments.Parse([
            "--scenario", "latency", "--host", "127.0.0.2", "--port", "1884", "--qos", "2", "--payload", "128",
            "--publishers", "8", "--subscribers", "2", "--rate", "5000", "--inflight", "50", "--duration", "3.5",
            "--warmup", "0", "--mqtt", "5", "--json", "--broker-pid", "42", "--shared-topic", "--connect-concurrency", "10",
            "--session-expiry", "3600",
        ]);

        Assert.Empty(a.Errors);
        var o = a.Options;
        Assert.Equal(Scenario.Latency, o.Scenario);
        Assert.Equal("127.0.0.2", o.Host);
        Assert.Equal(1884, o.Port);
        Assert.Equal(QualityOfService.ExactlyOnce, o.QoS);
        Assert.Equal(128, o.PayloadSize);
        Assert.Equal(8, o.Publishers);
        Assert.Equal(2, o.Subscribers);
        Assert.Equal(5000, o.Rate);
        Assert.Equal(50, o.Inflight);
        Assert.Equal(TimeSpan.FromSeconds(3.5), o.Duration);
        Assert.Equal(TimeSpan.Zero, o.Warmup);
        Assert.Equal(ProtocolVersion.V500, o.Version);
        Assert.True(a.Json);
        Assert.Equal(42, o.BrokerPid);
        Assert.True(o.SharedTopic);
        Assert.Equal(10, o.ConnectConcurrency);
        Assert.Equal(3600u, o.SessionExpiry);
    }

    [Theory]
    [InlineData("fanin", 7, 1)]
    [InlineData("latency", 7, 1)]
    [InlineData("fanout", 1, 7)]
    [InlineData("pairs", 7, 7)]
    public void Clients_IsTheScenariosN(string scenario, int publishers, int subscribers)
    {
        var o = BenchArguments.Parse(["--scenario", scenario, "--clients", "7"]).Options.Resolve();

        Assert.Equal(publishers, o.Publishers);
        Assert.Equal(subscribers, o.Subscribers);
    }

    [Fact]
    public void Clients_ForConn_IsTheConnectionCount()
        => Assert.Equal(15_000, BenchArguments.Parse(["--scenario", "conn", "--clients", "15000"]).Options.Clients);

    [Fact]
    public void Defaults_LatencyRunsAt20000PerSecond_OthersUnthrottled()
    {
        Assert.Equal(20_000, new BenchOptions { Scenario = Scenario.Latency }.Resolve().Rate);
        Assert.Equal(0, new BenchOptions { Scenario = Scenario.FanIn }.Resolve().Rate);
    }

    [Fact]
    public void Inflight_DefaultsTo64_AndIsReadInEitherForm()
    {
        Assert.Equal(64, BenchArguments.Parse(["--scenario", "pairs", "--qos", "1"]).Options.Inflight);
        Assert.Equal(64, new BenchOptions().Inflight);
        Assert.Equal(500, BenchArguments.Parse(["--scenario", "pairs", "--inflight=500"]).Options.Inflight);
    }

    [Fact]
    public void BrokerPid_IsOptional()
    {
        Assert.Null(BenchArguments.Parse(["--scenario", "pairs"]).Options.BrokerPid);
        Assert.Equal(1234, BenchArguments.Parse(["--scenario", "pairs", "--broker-pid=1234"]).Options.BrokerPid);
    }

    [Fact]
    public void Help_GivesTheInflightDefault_AndWhatCountsAsAccepted()
    {
        Assert.Contains("(default 64)", BenchArguments.Usage, StringComparison.Ordinal);
        Assert.Contains("PUBACK at QoS 1, PUBCOMP at QoS 2", BenchArguments.Usage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--scenario", "pairs", "--inflight", "0")]
    [InlineData("--scenario", "pairs", "--inflight", "65536")]
    [InlineData("--scenario", "pairs", "--broker-pid", "0")]
    [InlineData("--scenario", "pairs", "--broker-pid", "self")]
    [InlineData("--scenario", "sideways")]
    [InlineData("--scenario", "fanin", "--qos", "3")]
    [InlineData("--scenario", "fanin", "--mqtt", "4.0")]
    [InlineData("--scenario", "fanin", "--duration", "0")]
    [InlineData("--scenario", "fanin", "--bogus", "1")]
    [InlineData("--scenario", "pairs", "--publishers", "3", "--subscribers", "4")]
    [InlineData("--scenario", "latency", "--payload", "4")]
    [InlineData("--scenario", "fanin", "--port")]
    [InlineData("--qos", "1")]
    public void Parse_RejectsWhatCannotRun(params string[] args)
        => Assert.NotEmpty(BenchArguments.Parse(args).Errors);

    [Fact]
    public void Help_IsRecognised()
        => Assert.True(BenchArguments.Parse(["--help"]).Help);
}

using System.Globalization;
using System.Text.RegularExpressions;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace Kirisame.Interop.Tests.Security.Campaign;

/// The hostile-client campaign: for a bounded time, parallel connections play mutated packet sequences
/// (CampaignCases) against the real server in its production shape — a password file with a SCRAM user, an
/// ACL, and TCP, TLS, WebSocket and secure WebSocket listeners — while a well-behaved publisher and
/// subscriber exchange numbered QoS 1 messages. Afterwards: the process is up, every hostile connection was
/// closed, the descriptor count is back to where it was, the steady subscriber lost nothing, a fresh client
/// is served on every listener, and no log line quotes a client string at length.
///
/// KIRISAME_CAMPAIGN_SECONDS (default 40) sets the duration, KIRISAME_CAMPAIGN_SEED the seed (random by
/// default, always printed), KIRISAME_CAMPAIGN_CASES a comma-separated list of case numbers to replay instead.
/// bench/hostile/campaign.sh runs it for longer.
[Collection(HostileInputCollection.Name)]
public sealed partial class HostileCampaignTests(ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    private const int Workers = 8;
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("kirisame-campaign-").FullName;
    private readonly TestCertificates _certificates = new();
    private KirisameProcess? _server;

    private KirisameProcess Server => _server!;

    private CampaignTargets Targets => new(Server.Port, Server.ExtraPorts[0], Server.ExtraPorts[1], Server.ExtraPorts[2], _certificates.Ca);

    [GeneratedRegex(@"Connection (\S+) ")]
    private static partial Regex ConnectionId();

    public async Task InitializeAsync()
    {
        var passwords = Path.Combine(_directory, "passwd");
        string[][] entries =
        [
            ["--iterations", "1000", passwords, CampaignCases.User, CampaignCases.Password],
            ["--scram", passwords, CampaignCases.ScramUser, CampaignCases.ScramPassword],
        ];
        foreach (var entry in entries)
        {
            var made = await KirisameProcess.RunToCompletionAsync(["passwd", "-b", .. entry], s_timeout);
            Assert.True(made.ExitCode == 0, made.ToString());
        }
        var acl = Path.Combine(_directory, "acl");
        await File.WriteAllTextAsync(acl, """
            user alice
            topic readwrite campaign/#
            topic readwrite fuzz/#

            user erin
            topic readwrite fuzz/#
            topic read $SYS/#

            pattern readwrite clients/%c/#
            """);
        string Text(int port) => port.ToString(CultureInfo.InvariantCulture);
        // Failed logins are the campaign's daily bread: no delay worth the name, and no ban of 127.0.0.1,
        // which would shut the steady client out too.
        _server = await KirisameProcess.StartAsync(3, ports =>
        [
            "--password-file", passwords, "--acl-file", acl,
            "--tls-port", Text(ports[0]), "--cert", _certificates.ServerCertificate, "--key", _certificates.ServerKey,
            "--ws-port", Text(ports[1]),
            "--Listeners:wss:Protocol", "Wss", "--Listeners:wss:Port", Text(ports[2]),
            "--Listeners:wss:Certificate", _certificates.ServerCertificate, "--Listeners:wss:PrivateKey", _certificates.ServerKey,
            "--Security:FailedLoginDelay", "00:00:00.01", "--Security:MaxFailedLogins", "0",
        ]);
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    public void Dispose() => _certificates.Dispose();

    private static int EnvironmentInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : fallback;

    [Fact]
    public async Task HostileCampaign_OverEveryListener_NeitherStopsTheBroker_NorLeavesConnectionsOpen_NorLosesASteadyClientsMessages()
    {
        var seconds = EnvironmentInt("KIRISAME_CAMPAIGN_SECONDS", 40);
        var seed = EnvironmentInt("KIRISAME_CAMPAIGN_SEED", Random.Shared.Next());
        var replay = Environment.GetEnvironmentVariable("KIRISAME_CAMPAIGN_CASES")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var replayHint = $"replay with KIRISAME_CAMPAIGN_SEED={seed} (and KIRISAME_CAMPAIGN_CASES=N,… for single cases)";
        output.WriteLine($"seed {seed}, {seconds} s, {Workers} connections at a time; {replayHint}");

        var topic = "campaign/steady/" + Guid.NewGuid().ToString("N");
        var subscriber = await MqttNetClient.ConnectAsync(b => b.WithTcpServer("127.0.0.1", Targets.Tls).WithTlsOptions(tls => TlsInteropTests.TrustingCa(tls, _certificates.Ca)),
            MqttProtocolVersion.V500, configure: o => o.WithCredentials(CampaignCases.User, CampaignCases.Password));
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
        var publisher = await MqttNetClient.ConnectAsync(Server.Port, MqttProtocolVersion.V311, configure: o => o.WithCredentials(CampaignCases.User, CampaignCases.Password));
        await using var steady = new SteadyTraffic(publisher, subscriber, topic);

        // One served client per listener first, so that what the runtime opens once (TLS, WebSocket machinery)
        // is in the baseline.
        await AssertServedOnEveryListenerAsync();
        var descriptorsBefore = Descriptors();
        steady.Start();

        var problems = new List<string>();
        var next = -1L;
        var cases = 0;
        var notConnected = 0;
        var admitted = 0;
        var scramAdmitted = 0;
        var perTransport = new int[4];
        var started = DateTime.UtcNow;
        var deadline = started + TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                var index = Interlocked.Increment(ref next);
                if (replay is null ? DateTime.UtcNow >= deadline || Server.Process.HasExited : index >= replay.Length)
                    return;
                var c = CampaignCases.Create(seed, replay is null ? index : replay[index]);
                CampaignOutcome outcome;
                try
                {
                    outcome = await CampaignConnection.RunAsync(c, Targets);
                }
                catch (Exception ex)
                {
                    outcome = new(true, false, $"{c}: the campaign itself failed: {ex}");
                }
                var problem = outcome.Problem;
                lock (problems)
                {
                    cases++;
                    notConnected += outcome.Opened ? 0 : 1;
                    admitted += outcome.Admitted ? 1 : 0;
                    scramAdmitted += outcome.Admitted && c.Scram is not null ? 1 : 0;
                    perTransport[(int)c.Transport]++;
                    if (problem is not null)
                        problems.Add(problem + "\n  bytes: " + Hex(c.Packets));
                }
            }
        })));
        var elapsed = DateTime.UtcNow - started;

        var steadyProblem = await steady.StopAndCheckAsync();
        output.WriteLine($"{cases} cases in {elapsed.TotalSeconds:0.0} s ({cases / elapsed.TotalSeconds:0.0}/s): tcp {perTransport[0]}, tls {perTransport[1]}, ws {perTransport[2]}, wss {perTransport[3]}; {notConnected} could not connect; " +
            $"{admitted} admitted by CONNACK 0x00 ({scramAdmitted} after SCRAM); " +
            $"steady client: {steady.Acknowledged} acknowledged, {steady.Received} received");
        Assert.False(Server.Process.HasExited, $"the broker exited; {replayHint}\n{Server.Describe()}");

        // The broker's side of every hostile connection is gone: the descriptor count returns to the baseline
        // (a few of slack for what the runtime opens on its own).
        var settled = await Poll.UntilAsync(() => Descriptors() <= descriptorsBefore + 8, s_timeout);
        output.WriteLine($"descriptors: {descriptorsBefore} before, {Descriptors()} after");

        var lines = Server.Process.StdoutLines.Concat(Server.Process.Stderr.Split('\n')).ToList();
        // Lines are "<ISO 8601 time> <level> <category>: <message>" (the kirisame console format).
        var failures = lines.Where(l => l.Split(' ', 3) is [_, "error" or "crit", _]).ToList();
        output.WriteLine($"{lines.Count} log lines, {failures.Count} fail/crit");
        foreach (var line in failures.Take(20))
            output.WriteLine(line.Length > 600 ? line[..600] + "…" : line);
        var longest = lines.MaxBy(l => l.Length) ?? "";
        foreach (var problem in problems.Take(20))
            output.WriteLine(problem);

        Assert.True(problems.Count == 0, $"{problems.Count} hostile connection(s) went wrong; {replayHint}\n{string.Join("\n", problems.Take(10))}");
        Assert.True(settled, $"the broker holds {Descriptors()} descriptors, {descriptorsBefore} before the campaign: connections were left open; {replayHint}");
        Assert.True(steadyProblem is null, $"{steadyProblem}; {replayHint}");
        Assert.True(longest.Length < 2_000, $"a log line of {longest.Length} characters: client strings must be quoted short; {replayHint}\n{longest[..Math.Min(300, longest.Length)]}…");
        // A failed connection must have been closed: every one the campaign opened was (above), so a fail line
        // can only name a connection that is gone. Still listed, for they are faults worth reading.
        foreach (var id in failures.Select(l => ConnectionId().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).Distinct())
            output.WriteLine($"connection {id} logged a fault and was closed");
        await AssertServedOnEveryListenerAsync();
    }

    /// A fresh client on each listener connects, subscribes and receives its own message.
    private async Task AssertServedOnEveryListenerAsync()
    {
        var targets = Targets;
        Action<MqttClientOptionsBuilder>[] servers =
        [
            b => b.WithTcpServer("127.0.0.1", targets.Tcp),
            b => b.WithTcpServer("127.0.0.1", targets.Tls).WithTlsOptions(tls => TlsInteropTests.TrustingCa(tls, targets.Ca)),
            b => b.WithWebSocketServer(ws => ws.WithUri($"ws://127.0.0.1:{targets.Ws}/mqtt")),
            b => b.WithWebSocketServer(ws => ws.WithUri($"wss://localhost:{targets.Wss}/mqtt")).WithTlsOptions(tls => TlsInteropTests.TrustingCa(tls, targets.Ca)),
        ];
        foreach (var server in servers)
        {
            var topic = "campaign/fresh/" + Guid.NewGuid().ToString("N");
            await using var client = await MqttNetClient.ConnectAsync(server, MqttProtocolVersion.V500,
                configure: o => o.WithCredentials(CampaignCases.User, CampaignCases.Password));
            await client.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
            await client.PublishAsync(topic, "served", MqttQualityOfServiceLevel.AtLeastOnce);
            Assert.Equal("served", Assert.Single(await client.WaitForMessagesAsync(1)).Payload);
        }
    }

    private int Descriptors() => Directory.GetFiles($"/proc/{Server.Process.Id}/fd").Length;

    /// The case's bytes in hex, long fields elided, to paste into a report.
    private static string Hex(List<byte[]> packets) => string.Join(" | ", packets.Select(p =>
        p.Length <= 256 ? Convert.ToHexString(p) : $"{Convert.ToHexString(p, 0, 128)}…({p.Length} bytes)…{Convert.ToHexString(p, p.Length - 64, 64)}"));
}

using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests;

/// The embedding sample (samples/Kirisame.Sample.Embedded, the README's "Embedding" section) as a user runs it:
/// its own broker serves mosquitto_pub/sub over TCP, and its in-process client answers them.
public sealed partial class EmbeddingSampleTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    private static string SampleDll => typeof(KirisameProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "KirisameSampleDll").Value!;

    [GeneratedRegex(@"Thermostat listening for MQTT on 127\.0\.0\.1:(\d+)")]
    private static partial Regex Listening();

    [Fact]
    public async Task TheEmbeddedThermostat_ServesMosquittoClients_ThroughItsInProcessClient()
    {
        Assert.True(File.Exists(SampleDll), $"the sample is built with the tests: {SampleDll}");
        await using var sample = ExternalProcess.Start(KirisameProcess.DotnetHost, [SampleDll, "--Port", "0"]);
        var line = await sample.WaitForLineAsync(l => Listening().IsMatch(l), s_timeout);
        Assert.True(line is not null, sample.Describe());
        var port = int.Parse(Listening().Match(line!).Groups[1].Value, CultureInfo.InvariantCulture);

        // The retained target the in-process client published at start.
        Assert.Equal("20", await ReadTargetAsync(port));

        // A new target over MQTT is taken by the in-process client and re-published; a bad one is refused.
        Assert.Equal(0, (await MosquittoClients.PublishAsync(port, "thermostat/set", "hot", qos: 1)).ExitCode);
        Assert.NotNull(await sample.WaitForLineAsync(l => l.Contains("Refused target 'hot'", StringComparison.Ordinal), s_timeout));
        Assert.Equal(0, (await MosquittoClients.PublishAsync(port, "thermostat/set", "22.5", qos: 1)).ExitCode);
        Assert.NotNull(await sample.WaitForLineAsync(l => l.Contains("Target temperature: 22.5", StringComparison.Ordinal), s_timeout));
        Assert.Equal("22.5", await ReadTargetAsync(port));

        sample.Terminate();
        Assert.True(await sample.WaitForExitAsync(s_timeout), sample.Describe());
        Assert.Equal(0, sample.ExitCode);
    }

    private static async Task<string> ReadTargetAsync(int port)
    {
        var read = await Tools.RunAsync(MosquittoClients.Sub,
            ["-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-t", "thermostat/target", "-C", "1", "-W", "10"], s_timeout);
        Assert.Equal(0, read.ExitCode);
        return read.Stdout.Trim();
    }
}

using Kirisame.Testing;

namespace Kirisame.Packaging.Tests;

/// packaging/kirisame.service: what systemd thinks of it, and the settings issue 17 asks for.
public sealed class SystemdUnitTests : IDisposable
{
    private static readonly string s_unit = Path.Combine(Repository.Root, "packaging", "kirisame.service");
    private readonly TemporaryFolder _folder = new();

    /// systemd-analyze checks that ExecStart's program exists; here it is /bin/true, the rest as shipped.
    /// Unknown or misspelt settings are only warnings to it: any output fails the test.
    [Fact]
    public async Task Unit_PassesSystemdAnalyzeVerify_WithoutAWarning()
    {
        var unit = Path.Combine(_folder.Path, "kirisame.service");
        await File.WriteAllTextAsync(unit, (await File.ReadAllTextAsync(s_unit)).Replace("/usr/local/bin/kirisame", "/bin/true", StringComparison.Ordinal));
        var result = await Tools.RunAsync(Tools.Find("systemd-analyze", "/usr/bin/systemd-analyze"), ["verify", "--man=no", unit], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0 && result.Stderr.Trim().Length == 0 && result.Stdout.Trim().Length == 0, result.ToString());
    }

    [Fact]
    public async Task Unit_RunsAsADedicatedUser_NotifiesReadiness_ReloadsOnHangup_AndIsHardened()
    {
        var settings = (await File.ReadAllLinesAsync(s_unit))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#') && !l.StartsWith('[') && l.Contains('=', StringComparison.Ordinal))
            .Select(l => (Key: l[..l.IndexOf('=', StringComparison.Ordinal)], Value: l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..]))
            .ToLookup(s => s.Key, s => s.Value);
        string Single(string key) => Assert.Single(settings[key]);

        Assert.Equal("notify", Single("Type"));
        Assert.Equal("kirisame", Single("User"));
        Assert.Equal("kirisame", Single("StateDirectory"));
        Assert.Equal("/bin/kill -HUP $MAINPID", Single("ExecReload"));
        Assert.StartsWith("/usr/local/bin/kirisame serve ", Single("ExecStart"), StringComparison.Ordinal);
        Assert.Equal("true", Single("NoNewPrivileges"));
        Assert.Equal("strict", Single("ProtectSystem"));
        Assert.Equal("true", Single("ProtectHome"));
        Assert.Equal("true", Single("PrivateTmp"));
        Assert.Equal("", Single("CapabilityBoundingSet")); // no capability: MQTT's ports are above 1024
        Assert.True(int.Parse(Single("LimitNOFILE"), System.Globalization.CultureInfo.InvariantCulture) >= 65536);
    }

    public void Dispose() => _folder.Dispose();
}

using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Management;

/// The management listener over HTTPS, with the MQTT listeners' certificate options.
public sealed class ManagementHttpsTests
{
    [Fact]
    public async Task Https_ServesTheApi_AndCtlTrustsItThroughCaFile()
    {
        using var certificates = new TestCertificates();
        await using var server = await KirisameProcess.StartAsync(1, ports =>
        [
            "--management-port", ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--Management:Certificate", certificates.ServerCertificate, "--Management:PrivateKey", certificates.ServerKey,
        ]);
        var url = $"https://127.0.0.1:{server.ExtraPorts[0]}";

        var trusted = await KirisameProcess.RunToCompletionAsync(["ctl", "--url", url, "--cafile", certificates.CaFile, "status", "--json"], TimeSpan.FromSeconds(60));
        var untrusted = await KirisameProcess.RunToCompletionAsync(["ctl", "--url", url, "status"], TimeSpan.FromSeconds(60));
        var plain = await KirisameProcess.RunToCompletionAsync(["ctl", "--url", url.Replace("https", "http", StringComparison.Ordinal), "status"], TimeSpan.FromSeconds(60));

        Assert.True(trusted.ExitCode == 0, trusted.ToString());
        Assert.Contains("uptimeSeconds", trusted.Stdout, StringComparison.Ordinal);
        Assert.Equal(3, untrusted.ExitCode); // the certificate is not trusted without --cafile
        Assert.NotEqual(0, plain.ExitCode);
    }
}

using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Kirisame.Interop.Tests.Security;

/// A bare TLS client on 127.0.0.1 built on SslStream, for what the MQTT libraries hide: which certificate
/// the server presents, what happens to a client certificate, and raw handshakes.
internal static class TlsClient
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// MQTT 3.1.1 CONNECT with client id "tls", clean session, keep alive 60.
    private static readonly byte[] s_connect = [0x10, 0x0F, 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x03, (byte)'t', (byte)'l', (byte)'s'];

    /// Handshakes (trusting <paramref name="ca"/> only) and returns the server's certificate.
    public static async Task<X509Certificate2> GetServerCertificateAsync(int port, X509Certificate2 ca)
    {
        using var tcp = new TcpClient();
        using var cts = new CancellationTokenSource(Timeout);
        await tcp.ConnectAsync(IPAddress.Loopback, port, cts.Token);
        await using var ssl = new SslStream(tcp.GetStream());
        await ssl.AuthenticateAsClientAsync(Options(ca, null, SslProtocols.None), cts.Token);
        return X509CertificateLoader.LoadCertificate(ssl.RemoteCertificate!.GetRawCertData());
    }

    /// Handshakes, sends CONNECT and returns the CONNACK return code; null when the server ended the
    /// connection (or the handshake failed) instead.
    public static async Task<byte?> ConnectAsync(int port, X509Certificate2 ca, X509Certificate2? clientCertificate, SslProtocols protocols = SslProtocols.None)
    {
        using var tcp = new TcpClient();
        using var cts = new CancellationTokenSource(Timeout);
        await tcp.ConnectAsync(IPAddress.Loopback, port, cts.Token);
        await using var ssl = new SslStream(tcp.GetStream());
        try
        {
            await ssl.AuthenticateAsClientAsync(Options(ca, clientCertificate, protocols), cts.Token);
            await ssl.WriteAsync(s_connect, cts.Token);
            var connAck = new byte[4];
            var read = 0;
            while (read < connAck.Length)
            {
                var n = await ssl.ReadAsync(connAck.AsMemory(read), cts.Token);
                if (n == 0)
                    return null;
                read += n;
            }

            return connAck[0] == 0x20 ? connAck[3] : throw new InvalidDataException($"expected CONNACK, got 0x{connAck[0]:X2}");
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            // With TLS 1.3 the client's handshake can finish before the server has checked the client
            // certificate; the refusal then arrives as an alert on the first read.
            return null;
        }
    }

    private static SslClientAuthenticationOptions Options(X509Certificate2 ca, X509Certificate2? clientCertificate, SslProtocols protocols) => new()
    {
        TargetHost = "localhost",
        EnabledSslProtocols = protocols,
        ClientCertificates = clientCertificate is null ? null : [clientCertificate],
        CertificateChainPolicy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            CustomTrustStore = { ca },
            RevocationMode = X509RevocationMode.NoCheck,
        },
    };

    /// Sends a hand-made ClientHello offering only <paramref name="version"/> (0x0301 TLS 1.0, 0x0302 TLS
    /// 1.1) with suites of that era, and returns the first byte of the answer: 0x16 a handshake (ServerHello),
    /// 0x15 an alert, or null if the server closed the connection. Hand-made because the local OpenSSL
    /// refuses to offer these versions at all, which would make a client-library test pass for the wrong reason.
    public static async Task<byte?> SendLegacyClientHelloAsync(int port, ushort version)
    {
        var hello = new List<byte>();
        hello.AddRange([(byte)(version >> 8), (byte)version]);
        hello.AddRange(new byte[32]); // random
        hello.Add(0); // no session id
        byte[] suites = [0xC0, 0x09, 0xC0, 0x0A, 0xC0, 0x13, 0xC0, 0x14, 0x00, 0x2F, 0x00, 0x35];
        hello.AddRange([0x00, (byte)suites.Length]);
        hello.AddRange(suites);
        hello.AddRange([0x01, 0x00]); // null compression
        // supported_groups (secp256r1) and ec_point_formats (uncompressed), so only the version is wrong.
        byte[] extensions = [0x00, 0x0A, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17, 0x00, 0x0B, 0x00, 0x02, 0x01, 0x00];
        hello.AddRange([0x00, (byte)extensions.Length]);
        hello.AddRange(extensions);

        var handshake = new List<byte> { 0x01, 0x00, (byte)(hello.Count >> 8), (byte)hello.Count };
        handshake.AddRange(hello);
        var record = new List<byte> { 0x16, (byte)(version >> 8), (byte)version, (byte)(handshake.Count >> 8), (byte)handshake.Count };
        record.AddRange(handshake);

        using var tcp = new TcpClient();
        using var cts = new CancellationTokenSource(Timeout);
        await tcp.ConnectAsync(IPAddress.Loopback, port, cts.Token);
        var stream = tcp.GetStream();
        await stream.WriteAsync(record.ToArray(), cts.Token);
        var first = new byte[1];
        try
        {
            return await stream.ReadAsync(first, cts.Token) == 0 ? null : first[0];
        }
        catch (IOException)
        {
            return null; // reset
        }
    }
}

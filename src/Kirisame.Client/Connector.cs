using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;

namespace Kirisame.Client;

/// Opens the byte stream under MQTT: a TCP socket, TLS over it, or a WebSocket (subprotocol "mqtt", binary
/// messages) over either.
internal static class Connector
{
    public static async Task<Stream> OpenAsync(MqttClientOptions options, CancellationToken cancellationToken)
    {
        var server = options.Server;
        if (server.UsesWebSocket)
            return await OpenWebSocketAsync(options, cancellationToken);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(server.Host, server.Port, cancellationToken);
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (!server.UsesTls)
                return stream;
            var tls = new SslStream(stream, leaveInnerStreamOpen: false);
            try
            {
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = server.Host,
                    ClientCertificates = ClientCertificates(options.Tls),
                    RemoteCertificateValidationCallback = Validator(options.Tls),
                }, cancellationToken);
                return tls;
            }
            catch
            {
                await tls.DisposeAsync();
                throw;
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task<Stream> OpenWebSocketAsync(MqttClientOptions options, CancellationToken cancellationToken)
    {
        var server = options.Server;
        var socket = new ClientWebSocket();
        try
        {
            socket.Options.AddSubProtocol("mqtt"); // [MQTT-6.0.0-3] (5.0), as 3.1.1 section 6
            socket.Options.KeepAliveInterval = TimeSpan.Zero; // MQTT has its own keep-alive
            if (server.UsesTls)
            {
                if (ClientCertificates(options.Tls) is { } certificates)
                    socket.Options.ClientCertificates = certificates;
                socket.Options.RemoteCertificateValidationCallback = Validator(options.Tls);
            }

            var host = server.Host.Contains(':', StringComparison.Ordinal) ? $"[{server.Host}]" : server.Host;
            var uri = new Uri($"{(server.UsesTls ? "wss" : "ws")}://{host}:{server.Port}{server.Path}");
            await socket.ConnectAsync(uri, cancellationToken);
            // Each MQTT write goes out as one binary message [MQTT-6.0.0-1]; reads span messages as a byte stream.
            return WebSocketStream.Create(socket, WebSocketMessageType.Binary, ownsWebSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static X509CertificateCollection? ClientCertificates(MqttTlsOptions tls)
    {
        if (tls.CertificateFile is null)
            return null;
        var certificate = X509Certificate2.CreateFromPemFile(tls.CertificateFile, tls.KeyFile);
        // SslStream on Linux needs the key in a form it can hand to OpenSSL: re-import as PKCS#12.
        var exported = X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        certificate.Dispose();
        return [exported];
    }

    /// The system's validation, unless a CA file replaces the trusted roots or the options say to trust anything.
    private static RemoteCertificateValidationCallback? Validator(MqttTlsOptions tls)
    {
        if (tls.Insecure)
        {
            // Asked for in so many words (Insecure, mosquitto's bridge_insecure): the user gives up the check.
#pragma warning disable CA5359
            return static (_, _, _, _) => true;
#pragma warning restore CA5359
        }
        if (tls.CaFile is null)
            return null;
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(tls.CaFile);
        return (_, certificate, _, errors) =>
        {
            // The host name still has to match; only the chain is judged against our roots.
            if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) != 0)
                return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            using var leaf = new X509Certificate2(certificate);
            return chain.Build(leaf);
        };
    }
}

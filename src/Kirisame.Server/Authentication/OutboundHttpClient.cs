using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kirisame.Server.Authentication;

/// The HTTP client the broker calls out with (the HTTP hooks, a JWKS URL; docs/adr/0018) and its TLS: with CaFile, an
/// https server's certificate must chain to that file's CAs and to nothing else (a private CA trusted for this service
/// alone, not added to the system's); with ClientCertificate (and ClientKey, unless the key is in the same file), the
/// broker presents it (mutual TLS).
internal static class OutboundHttpClient
{
    /// Throws FormatException naming the <paramref name="section"/>'s key and the file that cannot be used.
    public static HttpClient Create(string section, string? caFile, string? clientCertificate, string? clientKey)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        if (caFile is not null)
        {
            var authorities = new X509Certificate2Collection();
            Read(section, "CaFile", caFile, () => authorities.ImportFromPemFile(caFile));
            if (authorities.Count == 0)
                throw new FormatException($"{section}:CaFile: {caFile}: no PEM certificate in the file");
            // A chain policy rather than a validation callback: SslStream still checks the host name, and when it refuses
            // it says why (UntrustedRoot, PartialChain, RemoteCertificateNameMismatch), which the failure's log line names.
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(authorities);
            handler.SslOptions.CertificateChainPolicy = policy;
        }

        if (clientCertificate is not null)
        {
            X509Certificate2? certificate = null;
            Read(section, "ClientCertificate", clientCertificate, () =>
            {
                using var pem = X509Certificate2.CreateFromPemFile(clientCertificate, clientKey);
                // Through PKCS#12: a key imported from PEM alone is ephemeral, which TLS cannot use on every platform.
                certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            });
            handler.SslOptions.ClientCertificates = [certificate!];
        }

        return new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan }; // each call has its own timeout
    }

    /// Why a request failed, down to the innermost cause: an HttpRequestException alone says only "The SSL connection
    /// could not be established, see inner exception." This gives "The SSL connection could not be established: The
    /// remote certificate is invalid because of errors in the certificate chain: PartialChain".
    public static string Describe(Exception error)
    {
        const string SeeInner = ", see inner exception.";
        var text = "";
        for (Exception? cause = error; cause is not null; cause = cause.InnerException)
        {
            var message = cause.Message.EndsWith(SeeInner, StringComparison.Ordinal) ? cause.Message[..^SeeInner.Length] : cause.Message;
            if (!text.Contains(message, StringComparison.Ordinal))
                text = text.Length == 0 ? message : $"{text}: {message}";
        }

        return text;
    }

    private static void Read(string section, string key, string path, Action read)
    {
        try
        {
            read();
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new FormatException($"{section}:{key}: {path}: {ex.Message}", ex);
        }
    }
}

using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kirisame.Transport.Listeners;
using Microsoft.Extensions.Logging;

namespace Kirisame.Transport.Tls;

/// The TLS side of one listener: the server certificate (reloaded when its files change), TLS 1.2 and 1.3
/// only, and client certificates checked against the listener's own CA — not the machine's trust store, so
/// a certificate from any public CA is not a way in.
internal sealed class TlsSettings
{
    private readonly ListenerOptions _listener;
    private readonly ReloadingFiles<SslStreamCertificateContext> _certificate;
    private readonly ReloadingFiles<X509Certificate2Collection>? _clientCas;
    private readonly ILogger _logger;

    public TlsSettings(ListenerOptions listener, ILogger logger)
    {
        _listener = listener;
        _logger = logger;
        var path = listener.Certificate!;
        _certificate = new ReloadingFiles<SslStreamCertificateContext>([path, listener.PrivateKey],
            () => LoadServerCertificate(path, listener.PrivateKey, listener.CertificatePassword), logger);
        if (listener.ClientCaFile is { } caFile)
            _clientCas = new ReloadingFiles<X509Certificate2Collection>([caFile], () => LoadCertificates(caFile), logger);
    }

    public SslServerAuthenticationOptions CreateOptions(bool http) => new()
    {
        ServerCertificateContext = _certificate.Current,
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        ClientCertificateRequired = _listener.ClientCertificates != ClientCertificates.None,
        RemoteCertificateValidationCallback = ValidateClientCertificate,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        ApplicationProtocols = http ? [SslApplicationProtocol.Http11] : null,
    };

    private bool ValidateClientCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
            return _listener.ClientCertificates != ClientCertificates.Required;
        if (_clientCas is null)
            return false;

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_clientCas.Current);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        // Certificates that state their purposes must include client authentication.
        custom.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2"));
        if (chain is not null)
        {
            // Intermediates the client sent along.
            foreach (var element in chain.ChainElements)
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
        }

        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (custom.Build(leaf))
            return true;
        _logger.LogInformation("Refused a client certificate on listener {Listener}: {Subject}: {Status}", _listener.Name, leaf.Subject,
            string.Join("; ", custom.ChainStatus.Select(s => s.StatusInformation.Trim())));
        return false;
    }

    /// The name a verified client certificate contributes as the user name, per the listener's setting.
    public string? IdentityOf(X509Certificate2? certificate)
    {
        if (certificate is null)
            return null;
        switch (_listener.CertificateIdentity)
        {
            case CertificateIdentity.CommonName:
                foreach (var rdn in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
                {
                    if (rdn.GetSingleElementType().Value == "2.5.4.3")
                        return rdn.GetSingleElementValue();
                }

                return null;
            case CertificateIdentity.SubjectAlternativeName:
                foreach (var extension in certificate.Extensions)
                {
                    if (extension is X509SubjectAlternativeNameExtension san)
                        return san.EnumerateDnsNames().FirstOrDefault();
                }

                return null;
            default:
                return null;
        }
    }

    private static SslStreamCertificateContext LoadServerCertificate(string path, string? keyPath, string? password)
    {
        X509Certificate2 leaf;
        var chain = new X509Certificate2Collection();
        var extension = Path.GetExtension(path);
        if (extension.Equals(".pfx", StringComparison.OrdinalIgnoreCase) || extension.Equals(".p12", StringComparison.OrdinalIgnoreCase))
        {
            var all = X509CertificateLoader.LoadPkcs12CollectionFromFile(path, password);
            leaf = all.FirstOrDefault(c => c.HasPrivateKey) ?? throw new CryptographicException($"{path} holds no certificate with a private key.");
            chain.AddRange(all.Where(c => c != leaf).ToArray());
        }
        else
        {
            leaf = password is null
                ? X509Certificate2.CreateFromPemFile(path, keyPath)
                : X509Certificate2.CreateFromEncryptedPemFile(path, password, keyPath);
            // Intermediates after the leaf in the same file are sent along with it.
            var all = LoadCertificates(path);
            chain.AddRange(all.Skip(1).ToArray());
        }

        if (!leaf.HasPrivateKey)
            throw new CryptographicException($"{path}: no private key for the certificate.");
        return SslStreamCertificateContext.Create(leaf, chain, offline: true);
    }

    private static X509Certificate2Collection LoadCertificates(string path)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPemFile(path);
        if (collection.Count == 0)
            throw new CryptographicException($"{path} holds no PEM certificate.");
        return collection;
    }
}

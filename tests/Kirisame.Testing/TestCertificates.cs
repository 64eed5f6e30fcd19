using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kirisame.Testing;

/// Certificates made fresh by each test run (nothing private is committed): a CA, a server certificate
/// for localhost/127.0.0.1 signed by it, and client certificates on demand, written as PEM files into a
/// temporary directory that is deleted on dispose.
public sealed class TestCertificates : IDisposable
{
    private readonly X509Certificate2 _ca;

    public TestCertificates(string caName = "Kirisame Test CA")
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("kirisame-certs-").FullName;
        _ca = CreateCa(caName);
        CaFile = Path.Combine(Directory, "ca.pem");
        File.WriteAllText(CaFile, _ca.ExportCertificatePem());
        (ServerCertificate, ServerKey) = WriteServerCertificate("server");
    }

    public string Directory { get; }

    public string CaFile { get; }

    public string ServerCertificate { get; }

    public string ServerKey { get; }

    /// The CA certificate, for clients that validate the server with it.
    public X509Certificate2 Ca => _ca;

    /// A new server certificate (same names, new key and serial) under the given file stem.
    public (string CertificateFile, string KeyFile) WriteServerCertificate(string stem)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var certificate = Sign(request);
        var certificateFile = Path.Combine(Directory, stem + ".pem");
        var keyFile = Path.Combine(Directory, stem + ".key");
        File.WriteAllText(certificateFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return (certificateFile, keyFile);
    }

    /// A client certificate with the given common name (and the name as a DNS SAN), as PEM files, plus the
    /// certificate with its key for .NET clients.
    public (string CertificateFile, string KeyFile, X509Certificate2 Certificate) WriteClientCertificate(string commonName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(commonName);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var signed = Sign(request);
        var certificateFile = Path.Combine(Directory, $"client-{commonName}.pem");
        var keyFile = Path.Combine(Directory, $"client-{commonName}.key");
        File.WriteAllText(certificateFile, signed.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        // Through PKCS#12 so SslStream can use the key on every platform.
        using var withKey = signed.CopyWithPrivateKey(key);
        var pfx = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pfx), null);
        return (certificateFile, keyFile, pfx);
    }

    private X509Certificate2 Sign(CertificateRequest request)
    {
        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7F;
        var now = DateTimeOffset.UtcNow;
        return request.Create(_ca, now.AddMinutes(-5), now.AddDays(1), serial);
    }

    private static X509Certificate2 CreateCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-10), now.AddDays(2));
    }

    public void Dispose()
    {
        _ca.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

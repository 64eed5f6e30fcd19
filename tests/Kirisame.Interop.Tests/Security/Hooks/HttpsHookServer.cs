using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Security.Hooks;

/// A small HTTPS server on loopback with a certificate from the test's CA (HttpListener serves no TLS on Linux): answers
/// each request by its path, one request per connection. With <c>requireClientCertificate</c> it asks for a client
/// certificate signed by the same CA and refuses the handshake without one; the names of those presented are kept.
internal sealed class HttpsHookServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly X509Certificate2 _certificate;
    private readonly X509Certificate2 _ca;
    private readonly bool _requireClientCertificate;
    private readonly Func<string, (int Status, string Body)> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<string> _clientNames = [];
    private readonly Task _serving;
    private int _answered;

    public HttpsHookServer(TestCertificates certificates, Func<string, (int Status, string Body)> handler, bool requireClientCertificate = false)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certificates.ServerCertificate, certificates.ServerKey);
        _certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        _ca = certificates.Ca;
        _handler = handler;
        _requireClientCertificate = requireClientCertificate;
        _listener.Start(); // port 0: the system picks a free one, so no other test can take it in between
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _serving = Task.Run(ServeAsync);
    }

    public int Port { get; }

    public string Url(string path) => $"https://127.0.0.1:{Port}/{path}";

    /// Requests answered (a refused handshake answers none).
    public int Answered => Volatile.Read(ref _answered);

    public IReadOnlyList<string> ClientNames
    {
        get
        {
            lock (_clientNames)
                return [.. _clientNames];
        }
    }

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient connection;
            try
            {
                connection = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => AnswerAsync(connection));
        }
    }

    private async Task AnswerAsync(TcpClient connection)
    {
        using var _ = connection;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await using var tls = new SslStream(connection.GetStream());
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = _certificate,
                ClientCertificateRequired = _requireClientCertificate,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => !_requireClientCertificate || (certificate is not null && SignedByCa(certificate)),
            }, timeout.Token);
            if (tls.RemoteCertificate is { } client)
            {
                lock (_clientNames)
                    _clientNames.Add(client.Subject);
            }

            var path = await ReadRequestAsync(tls, timeout.Token);
            var (status, body) = _handler(path);
            var bytes = Encoding.UTF8.GetBytes(body);
            var head = $"HTTP/1.1 {status} {(status == 200 ? "OK" : "Error")}\r\nContent-Type: application/json\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n";
            await tls.WriteAsync(Encoding.ASCII.GetBytes(head), timeout.Token);
            await tls.WriteAsync(bytes, timeout.Token);
            Interlocked.Increment(ref _answered);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or OperationCanceledException or FormatException)
        {
            // The broker refused our certificate (the tests without the CA file), or we refused its.
        }
    }

    private bool SignedByCa(X509Certificate certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var presented = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(presented);
    }

    /// Reads one request to its end (a Content-Length body or a chunked one) and returns its path.
    private static async Task<string> ReadRequestAsync(Stream stream, CancellationToken cancellation)
    {
        var received = new List<byte>();
        var buffer = new byte[4096];
        int headerEnd;
        while ((headerEnd = IndexOf(received, "\r\n\r\n"u8)) < 0)
            await ReadMoreAsync(stream, buffer, received, cancellation);

        var head = Encoding.ASCII.GetString([.. received.GetRange(0, headerEnd)]);
        var lines = head.Split("\r\n");
        var path = lines[0].Split(' ')[1];
        var bodyStart = headerEnd + 4;
        var length = lines.Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            .Select(p => int.Parse(p[1].Trim(), System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault(-1);
        var chunked = head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase);
        while (length >= 0 ? received.Count - bodyStart < length : chunked && !EndsWith(received, "0\r\n\r\n"u8))
            await ReadMoreAsync(stream, buffer, received, cancellation);
        return path;
    }

    private static async Task ReadMoreAsync(Stream stream, byte[] buffer, List<byte> received, CancellationToken cancellation)
    {
        var read = await stream.ReadAsync(buffer, cancellation);
        if (read == 0)
            throw new IOException("the client closed the connection mid-request");
        received.AddRange(buffer.AsSpan(0, read));
    }

    private static int IndexOf(List<byte> bytes, ReadOnlySpan<byte> value) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes).IndexOf(value);

    private static bool EndsWith(List<byte> bytes, ReadOnlySpan<byte> value) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes).EndsWith(value);

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _serving.Wait(TimeSpan.FromSeconds(5));
        _certificate.Dispose();
        _stop.Dispose();
    }
}

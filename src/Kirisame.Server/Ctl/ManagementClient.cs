using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Kirisame.Server.Ctl;

/// The answer of one API call: the status and the JSON body (null when there was none).
internal sealed record ApiResponse(HttpStatusCode Status, JsonElement? Body)
{
    public bool Ok => (int)Status is >= 200 and < 300;

    /// "404 Not found: The broker holds no session …" from a problem details body.
    public string Problem()
    {
        var title = Body is { ValueKind: JsonValueKind.Object } body && body.TryGetProperty("title", out var t) ? t.GetString() : Status.ToString();
        var detail = Body is { ValueKind: JsonValueKind.Object } b && b.TryGetProperty("detail", out var d) ? d.GetString() : null;
        return $"{(int)Status} {title}{(detail is null ? "" : ": " + detail)}";
    }
}

/// The broker could not be reached (connection refused, TLS, timeout).
internal sealed class UnreachableException(string message) : Exception(message);

/// HTTP to the management API, with the credentials of the command line.
internal sealed class ManagementClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _baseUrl;

    public ManagementClient(CtlArguments arguments, string? password)
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = arguments.Timeout };
        if (arguments.CaFile is { } caFile)
        {
            var authorities = new X509Certificate2Collection();
            authorities.ImportFromPemFile(caFile);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => TrustedBy(authorities, certificate, errors);
        }

        _http = new HttpClient(handler) { Timeout = arguments.Timeout };
        _baseUrl = arguments.Url.TrimEnd('/');
        if (arguments.Token is { } token)
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        else if (arguments.User is { } user)
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
    }

    public Task<ApiResponse> GetAsync(string path) => SendAsync(HttpMethod.Get, path, null);

    public Task<ApiResponse> PostAsync(string path, object? body) => SendAsync(HttpMethod.Post, path, body);

    public Task<ApiResponse> PutAsync(string path, object? body) => SendAsync(HttpMethod.Put, path, body);

    public Task<ApiResponse> DeleteAsync(string path) => SendAsync(HttpMethod.Delete, path, null);

    private async Task<ApiResponse> SendAsync(HttpMethod method, string path, object? body)
    {
        using var request = new HttpRequestMessage(method, _baseUrl + path);
        if (body is not null)
            request.Content = new StringContent(JsonSerializer.Serialize(body, JsonSerializerOptions.Web), Encoding.UTF8, "application/json");
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request);
        }
        catch (HttpRequestException ex)
        {
            throw new UnreachableException($"cannot reach the management API at {_baseUrl}: {ex.Message}");
        }
        catch (TaskCanceledException)
        {
            throw new UnreachableException($"the management API at {_baseUrl} did not answer in time");
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            JsonElement? json = null;
            if (text.Length > 0)
            {
                try
                {
                    json = JsonDocument.Parse(text).RootElement.Clone();
                }
                catch (JsonException)
                {
                    throw new UnreachableException($"{_baseUrl} answered {(int)response.StatusCode} with something that is not JSON: is it Kirisame's management API?");
                }
            }

            return new ApiResponse(response.StatusCode, json);
        }
    }

    private static bool TrustedBy(X509Certificate2Collection authorities, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }

    public void Dispose() => _http.Dispose();
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Management;

/// Who calls the API in a test.
internal enum Caller
{
    Nobody,
    Admin,
    Monitoring,
    Viewer,
    NoRole,
    AdminToken,
    ViewerToken,
}

/// Admin users and API tokens, made once per test run with the real `kirisame passwd` and `kirisame token`.
internal sealed class ManagementCredentials
{
    private static readonly Lazy<Task<ManagementCredentials>> s_shared = new(CreateAsync);

    public static Task<ManagementCredentials> SharedAsync() => s_shared.Value;

    public required string PasswordFile { get; init; }

    public required string TokenFile { get; init; }

    public required string AdminToken { get; init; }

    public required string ViewerToken { get; init; }

    public static readonly IReadOnlyDictionary<string, string> Passwords = new Dictionary<string, string>
    {
        ["admin"] = "admin-secret",
        ["watcher"] = "watcher-secret",
        ["viewer"] = "viewer-secret",
        ["norole"] = "norole-secret",
    };

    /// The server arguments that give those users their roles (norole has none).
    public string[] Arguments =>
    [
        "--Management:PasswordFile", PasswordFile, "--Management:TokenFile", TokenFile,
        "--Management:Roles:admin", "administrator", "--Management:Roles:watcher", "monitoring", "--Management:Roles:viewer", "viewer",
    ];

    private static async Task<ManagementCredentials> CreateAsync()
    {
        var directory = Directory.CreateTempSubdirectory("kirisame-management-");
        var passwords = Path.Combine(directory.FullName, "admins");
        var tokens = Path.Combine(directory.FullName, "tokens");
        foreach (var (user, password) in Passwords)
        {
            var made = await KirisameProcess.RunToCompletionAsync(["passwd", "-b", "--iterations", "1000", passwords, user, password], TimeSpan.FromSeconds(60));
            Assert.True(made.ExitCode == 0, made.ToString());
        }

        return new ManagementCredentials
        {
            PasswordFile = passwords,
            TokenFile = tokens,
            AdminToken = await MakeTokenAsync(tokens, "deploy", "administrator"),
            ViewerToken = await MakeTokenAsync(tokens, "dashboard", "viewer"),
        };
    }

    public static async Task<string> MakeTokenAsync(string file, string name, string role)
    {
        var made = await KirisameProcess.RunToCompletionAsync(["token", file, name, role], TimeSpan.FromSeconds(60));
        Assert.True(made.ExitCode == 0, made.ToString());
        var token = made.Stdout.Trim();
        Assert.StartsWith("kirisame_", token, StringComparison.Ordinal);
        return token;
    }
}

/// The real server with its management listener on a free loopback port, and HTTP clients for each caller.
internal sealed class ManagedBroker : IAsyncDisposable
{
    private readonly Dictionary<Caller, HttpClient> _clients = [];

    private ManagedBroker(KirisameProcess server, ManagementCredentials? credentials)
    {
        Server = server;
        Credentials = credentials;
        ManagementPort = server.ExtraPorts[0];
        BaseUrl = $"http://127.0.0.1:{ManagementPort}";
    }

    public KirisameProcess Server { get; }

    public ManagementCredentials? Credentials { get; }

    public int MqttPort => Server.Port;

    public int ManagementPort { get; }

    public string BaseUrl { get; }

    /// With <paramref name="withCredentials"/> the API needs admin users or tokens; without, it is open (loopback).
    public static Task<ManagedBroker> StartAsync(bool withCredentials, params string[] arguments) =>
        StartAsync(withCredentials, 0, _ => arguments);

    /// As above, with <paramref name="extraPorts"/> more free ports for other listeners (e.g. --ws-port), given to
    /// <paramref name="arguments"/> (the server's <see cref="KirisameProcess.ExtraPorts"/> after the management port).
    public static async Task<ManagedBroker> StartAsync(bool withCredentials, int extraPorts, Func<int[], IEnumerable<string>> arguments)
    {
        var credentials = withCredentials ? await ManagementCredentials.SharedAsync() : null;
        var server = await KirisameProcess.StartAsync(1 + extraPorts, ports =>
            [.. arguments(ports[1..]), "--management-port", ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture), .. credentials?.Arguments ?? []]);
        return new ManagedBroker(server, credentials);
    }

    public HttpClient Client(Caller caller = Caller.Admin)
    {
        lock (_clients)
        {
            if (_clients.TryGetValue(caller, out var existing))
                return existing;
            var client = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
            client.DefaultRequestHeaders.Authorization = caller switch
            {
                Caller.Nobody => null,
                Caller.Admin => Basic("admin"),
                Caller.Monitoring => Basic("watcher"),
                Caller.Viewer => Basic("viewer"),
                Caller.NoRole => Basic("norole"),
                Caller.AdminToken => new AuthenticationHeaderValue("Bearer", Credentials!.AdminToken),
                Caller.ViewerToken => new AuthenticationHeaderValue("Bearer", Credentials!.ViewerToken),
                _ => throw new ArgumentOutOfRangeException(nameof(caller)),
            };
            return _clients[caller] = client;
        }
    }

    private AuthenticationHeaderValue? Basic(string user) => Credentials is null
        ? null
        : new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{ManagementCredentials.Passwords[user]}")));

    /// GET that must succeed; the JSON body.
    public async Task<JsonElement> GetJsonAsync(string path, Caller caller = Caller.Admin)
    {
        using var response = await Client(caller).GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {text}\n{Server.Describe()}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async Task<(HttpStatusCode Status, JsonElement? Body, string? ContentType)> SendAsync(HttpMethod method, string path, object? body = null,
        Caller caller = Caller.Admin, string? rawJson = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (rawJson is not null)
            request.Content = new StringContent(rawJson, Encoding.UTF8, "application/json");
        else if (body is not null)
            request.Content = JsonContent.Create(body);
        using var response = await Client(caller).SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonDocument.Parse(text).RootElement.Clone(), response.Content.Headers.ContentType?.MediaType);
    }

    /// The client ids the API lists now.
    public async Task<List<string>> ClientIdsAsync(string query = "")
    {
        var page = await GetJsonAsync("/api/v1/clients" + query);
        return [.. page.GetProperty("items").EnumerateArray().Select(c => c.GetProperty("clientId").GetString()!)];
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients.Values)
            client.Dispose();
        await Server.DisposeAsync();
    }
}

/// Asserts on RFC 9457 problem details.
internal static class ProblemAssert
{
    public static JsonElement Is(HttpStatusCode expected, (HttpStatusCode Status, JsonElement? Body, string? ContentType) response, string? detailContains = null)
    {
        Assert.True(response.Status == expected, $"expected {(int)expected}, got {(int)response.Status}: {response.Body}");
        Assert.Equal("application/problem+json", response.ContentType);
        var body = response.Body!.Value;
        Assert.Equal((int)expected, body.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("title").GetString()));
        if (detailContains is not null)
            Assert.Contains(detailContains, body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        return body;
    }
}

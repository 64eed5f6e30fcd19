using System.Net;
using System.Text;
using System.Text.Json;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Security.Hooks;

/// A small HTTP server on loopback for the tests: serves a JWKS document or answers hook POSTs with a handler, and
/// records the JSON bodies it was sent.
internal sealed class HookServer : IDisposable
{
    private readonly HttpListener _listener;
    private readonly Func<string, JsonElement?, Task<(int Status, string Body)>> _handler;
    private readonly List<JsonElement> _requests = [];
    private readonly Task _serving;

    public HookServer(Func<string, JsonElement?, Task<(int Status, string Body)>> handler)
    {
        _handler = handler;
        _listener = LoopbackHttpListener.Start(out var port);
        Port = port;
        _serving = Task.Run(ServeAsync);
    }

    public int Port { get; }

    /// A string field of a request body the server was sent; null when absent.
    public static string? Field(JsonElement? body, string name) =>
        body is { } b && b.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public string Url(string path) => $"http://127.0.0.1:{Port}/{path}";

    public IReadOnlyList<JsonElement> Requests
    {
        get
        {
            lock (_requests)
                return [.. _requests];
        }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => AnswerAsync(context));
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        try
        {
            JsonElement? body = null;
            if (context.Request.HasEntityBody)
            {
                using var document = await JsonDocument.ParseAsync(context.Request.InputStream);
                body = document.RootElement.Clone();
                lock (_requests)
                    _requests.Add(body.Value);
            }

            var (status, text) = await _handler(context.Request.Url!.AbsolutePath, body);
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            var bytes = Encoding.UTF8.GetBytes(text);
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
        catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or IOException)
        {
            // The broker gave up waiting (the timeout test) or the server is stopping.
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _serving.Wait(TimeSpan.FromSeconds(5));
    }
}

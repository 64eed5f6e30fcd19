using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server.Authentication;

internal enum HookAnswer
{
    Allow,
    Deny,
    Ignore,

    /// No usable answer: timeout, connection refused, non-2xx status, unreadable body, or the breaker is open.
    Failed,
}

/// One POST to an EMQX-style hook: a JSON object of strings in, {"result": "allow" | "deny" | "ignore"} out, with a
/// timeout and a circuit breaker (after BreakerFailures failures in a row the hook is not called for BreakerOpenFor:
/// a dead hook then costs a CONNECT nothing instead of the full timeout). The request holds the client's password
/// when authenticating: it is sent to the hook and nowhere else, never logged.
internal sealed class HttpHook(HttpClient client, HttpHookOptions options, TimeProvider time, ILogger logger)
{
    private readonly Lock _breaker = new();
    private int _failures;
    private long _openUntil;

    public HttpHookOptions Options => options;

    public async Task<HookResult> CallAsync(Uri url, Dictionary<string, string?> body)
    {
        lock (_breaker)
        {
            if (_openUntil != 0 && time.GetTimestamp() < _openUntil)
                return new(HookAnswer.Failed, "circuit breaker open");
        }

        string? failure;
        try
        {
            using var timeout = new CancellationTokenSource(options.Timeout, time);
            using var response = await client.PostAsJsonAsync(url, body, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                failure = $"HTTP {(int)response.StatusCode}";
            }
            else
            {
                using var answer = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(timeout.Token), default, timeout.Token);
                var result = answer.RootElement.ValueKind == JsonValueKind.Object && answer.RootElement.TryGetProperty("result", out var r) && r.ValueKind == JsonValueKind.String
                    ? r.GetString()
                    : null;
                HookAnswer? parsed = result switch
                {
                    "allow" => HookAnswer.Allow,
                    "deny" => HookAnswer.Deny,
                    "ignore" => HookAnswer.Ignore,
                    _ => null,
                };
                if (parsed is { } ok)
                {
                    Succeeded();
                    // An authentication hook may name the client's tenant (docs/adr/0021-tenants.md).
                    var tenant = answer.RootElement.TryGetProperty("tenant", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                    return new(ok, $"the hook answered {result}", tenant);
                }

                failure = "the answer has no \"result\" of allow, deny or ignore";
            }
        }
        catch (OperationCanceledException)
        {
            failure = $"no answer within {options.Timeout}";
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or IOException)
        {
            failure = OutboundHttpClient.Describe(ex); // for https: why the certificate was refused
        }

        Failed(url, failure);
        return new(HookAnswer.Failed, $"hook failed: {failure}");
    }

    private void Succeeded()
    {
        lock (_breaker)
        {
            _failures = 0;
            _openUntil = 0;
        }
    }

    private void Failed(Uri url, string cause)
    {
        bool opened;
        lock (_breaker)
        {
            opened = ++_failures >= options.BreakerFailures;
            if (opened)
            {
                _failures = 0;
                _openUntil = time.GetTimestamp() + (long)(options.BreakerOpenFor.TotalSeconds * time.TimestampFrequency);
            }
        }

        logger.LogWarning("HTTP hook {Url} failed: {Cause}{Breaker}", url, cause,
            opened ? $"; not called for {options.BreakerOpenFor} (circuit breaker)" : "");
    }
}

/// Answers kept for a time to live. Bounded: past MaxEntries it is emptied (a burst of distinct requests costs
/// calls, never memory without limit).
internal sealed class HookCache<TKey>(TimeProvider time) where TKey : notnull
{
    private const int MaxEntries = 100_000;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<TKey, (HookAnswer Answer, string? Tenant, long ExpiresAt)> _entries = new();

    public bool TryGet(TKey key, TimeSpan grace, out HookAnswer answer) => TryGet(key, grace, out answer, out _);

    /// <paramref name="tenant"/>: the tenant an authentication answer named, if any.
    public bool TryGet(TKey key, TimeSpan grace, out HookAnswer answer, out string? tenant)
    {
        answer = HookAnswer.Failed;
        tenant = null;
        if (!_entries.TryGetValue(key, out var entry))
            return false;
        if (time.GetTimestamp() >= entry.ExpiresAt + (long)(grace.TotalSeconds * time.TimestampFrequency))
            return false;
        answer = entry.Answer;
        tenant = entry.Tenant;
        return true;
    }

    public void Set(TKey key, HookAnswer answer, TimeSpan ttl, string? tenant = null)
    {
        if (_entries.Count >= MaxEntries)
            _entries.Clear();
        _entries[key] = (answer, tenant, time.GetTimestamp() + (long)(ttl.TotalSeconds * time.TimestampFrequency));
    }
}

/// A hook's answer, why (for the log), and the tenant an authentication answer named.
internal readonly record struct HookResult(HookAnswer Answer, string Detail, string? Tenant = null)
{
    public void Deconstruct(out HookAnswer answer, out string detail)
    {
        answer = Answer;
        detail = Detail;
    }
}

using System.Collections.Concurrent;
using System.Net;
using Kirisame.Protocol;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Security;

/// Slows down and then bans password guessing. Wraps another authenticator: every refusal is delayed by
/// FailedLoginDelay, and an address with MaxFailedLogins refusals inside FailedLoginWindow is refused
/// outright (v5 0x8A Banned, v3 0x05) for BanDuration without asking the inner authenticator. Enhanced
/// authentication methods (SCRAM) wrapped with <see cref="Guard"/> share the count and the ban; their
/// failures are not delayed (an exchange step answers at once).
public sealed class FailedLoginGuard(IAuthenticator inner, SecurityOptions options, TimeProvider time, ILogger logger) : IAuthenticator
{
    /// Addresses tracked at most: a spray from many addresses must not grow the table without bound.
    private const int MaxTracked = 100_000;

    private static readonly TimeSpan s_pruneInterval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<IPAddress, Failures> _failures = new();
    private long _lastPruneTicks;

    private sealed class Failures
    {
        public int Count;
        public long WindowStart;
        public long BannedUntil;
    }

    public async ValueTask<ReasonCode> AuthenticateAsync(ConnectContext context, CancellationToken cancellationToken)
    {
        var address = (context.RemoteEndPoint as IPEndPoint)?.Address;
        var now = time.GetTimestamp();
        if (IsBanned(address, now))
        {
            SecurityMetrics.AuthenticationRefused("guard", "banned");
            context.RefusalReason = "the address is banned after too many failed logins";
            return ReasonCode.Banned;
        }

        var verdict = await inner.AuthenticateAsync(context, cancellationToken);
        if (verdict == ReasonCode.Success)
            return verdict;

        RecordFailure(address, context.UserName, now);
        if (options.FailedLoginDelay > TimeSpan.Zero)
            await Task.Delay(options.FailedLoginDelay, time, cancellationToken);
        return verdict;
    }

    /// <paramref name="method"/> with this guard's count and ban: an exchange begun from a banned address
    /// fails at its first step with 0x8A, and every failed exchange counts as a failed login.
    public IEnhancedAuthenticationMethod Guard(IEnhancedAuthenticationMethod method) => new GuardedMethod(this, method);

    private long Now() => time.GetTimestamp();

    /// The addresses banned now, with when each ban ends (for an operator: the management API's bans).
    public IReadOnlyList<BannedAddress> Bans()
    {
        var now = Now();
        var bans = new List<BannedAddress>();
        foreach (var (address, failures) in _failures)
        {
            long until;
            lock (failures)
                until = failures.BannedUntil;
            if (until > now)
                bans.Add(new BannedAddress(address, time.GetUtcNow() + time.GetElapsedTime(now, until)));
        }

        return bans;
    }

    /// Lifts the ban of <paramref name="address"/> and forgets its failed logins. False when it was not banned.
    public bool Lift(IPAddress address)
    {
        if (!_failures.TryGetValue(address, out var failures))
            return false;
        bool banned;
        lock (failures)
        {
            banned = failures.BannedUntil > Now();
            failures.BannedUntil = 0;
            failures.Count = 0;
        }

        if (banned)
            logger.LogWarning("Lifted the ban of {Address}", address);
        return banned;
    }

    private bool IsBanned(IPAddress? address, long now)
    {
        if (address is null || !_failures.TryGetValue(address, out var known))
            return false;
        lock (known)
            return known.BannedUntil > now;
    }

    private void RecordFailure(IPAddress? address, string? userName, long now)
    {
        if (address is null || options.MaxFailedLogins <= 0)
            return;
        if (_failures.Count >= MaxTracked)
        {
            // Anonymous refusals cost no hashing, so a spray from many addresses must not buy a scan of the
            // whole table each: scan at most once a second.
            var last = Interlocked.Read(ref _lastPruneTicks);
            if (time.GetElapsedTime(last, now) >= s_pruneInterval && Interlocked.CompareExchange(ref _lastPruneTicks, now, last) == last)
                Prune(now);
        }

        if (!_failures.TryGetValue(address, out var failures))
        {
            if (_failures.Count >= MaxTracked)
                return;
            failures = _failures.GetOrAdd(address, _ => new Failures { WindowStart = now });
        }

        lock (failures)
        {
            if (time.GetElapsedTime(failures.WindowStart, now) > options.FailedLoginWindow)
            {
                failures.WindowStart = now;
                failures.Count = 0;
            }

            if (++failures.Count < options.MaxFailedLogins)
                return;
            failures.Count = 0;
            failures.BannedUntil = now + (long)(options.BanDuration.TotalSeconds * time.TimestampFrequency);
        }

        logger.LogWarning("Banned {Address} for {Duration} after {Count} failed logins (last as user '{User}')",
            address, options.BanDuration, options.MaxFailedLogins, Kirisame.Protocol.Primitives.MqttText.Quote(userName));
    }

    private void Prune(long now)
    {
        foreach (var (address, failures) in _failures)
        {
            bool stale;
            lock (failures)
                stale = failures.BannedUntil <= now && time.GetElapsedTime(failures.WindowStart, now) > options.FailedLoginWindow;
            if (stale)
                _failures.TryRemove(address, out _);
        }
    }


    private sealed class GuardedMethod(FailedLoginGuard guard, IEnhancedAuthenticationMethod inner) : IEnhancedAuthenticationMethod
    {
        public string Name => inner.Name;

        public IAuthenticationExchange Begin(ConnectContext context)
        {
            var address = (context.RemoteEndPoint as IPEndPoint)?.Address;
            return guard.IsBanned(address, guard.Now())
                ? new BannedExchange()
                : new GuardedExchange(guard, inner.Begin(context), address, context.UserName);
        }
    }

    private sealed class GuardedExchange(FailedLoginGuard guard, IAuthenticationExchange inner, IPAddress? address, string? userName) : IAuthenticationExchange
    {
        public string? UserName => inner.UserName;

        public async ValueTask<AuthenticationStep> StepAsync(ReadOnlyMemory<byte> clientData)
        {
            var step = await inner.StepAsync(clientData);
            if (step.Outcome == AuthenticationOutcome.Failure)
                guard.RecordFailure(address, inner.UserName ?? userName, guard.Now());
            return step;
        }
    }

    private sealed class BannedExchange : IAuthenticationExchange
    {
        public string? UserName => null;

        public ValueTask<AuthenticationStep> StepAsync(ReadOnlyMemory<byte> clientData) => ValueTask.FromResult(AuthenticationStep.Fail(ReasonCode.Banned));
    }
}

/// An address refused outright after too many failed logins, until <paramref name="Until"/>.
public sealed record BannedAddress(IPAddress Address, DateTimeOffset Until);

using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Kirisame.Broker.Security;
using Kirisame.Protocol;

namespace Kirisame.Management.Security;

/// Who may use the management API: users of a Mosquitto-format password file with a role from
/// Management:Roles, and API tokens from the token file. Implements the broker's <see cref="IAuthenticator"/>
/// so that <see cref="FailedLoginGuard"/> slows and bans password guessing here as it does for MQTT: a context
/// with a user name is a password login, one without a bearer token (in Password).
internal sealed class ManagementCredentials(WatchedFile<PasswordFile>? passwords, WatchedFile<ApiTokenFile>? tokens,
    IReadOnlyDictionary<string, ManagementRole> roles, TimeProvider time) : IAuthenticator
{
    /// A verified password is remembered this long: every API call sends it again (HTTP Basic), and deriving a
    /// $7$ hash takes a few hundred milliseconds on purpose.
    private static readonly TimeSpan s_rememberFor = TimeSpan.FromMinutes(1);

    private const int MaxRemembered = 1000;

    /// Remembered logins are keyed by an HMAC under a key that lives only in this process, so the table holds
    /// nothing a password could be recovered from.
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, long> _verified = new(StringComparer.Ordinal);

    /// No users and no tokens: the API is open (loopback only; ManagementOptions refuses otherwise).
    public bool AllowsAnonymous => passwords is null && tokens is null;

    public bool AcceptsPasswords => passwords is not null;

    public bool AcceptsTokens => tokens is not null;

    public ValueTask<ReasonCode> AuthenticateAsync(ConnectContext context, CancellationToken cancellationToken)
    {
        var secret = context.Password is { } password ? password.Span : default;
        var ok = context.UserName is { } user ? CheckPassword(user, secret) : CheckToken(Encoding.UTF8.GetString(secret));
        return ValueTask.FromResult(ok ? ReasonCode.Success : ReasonCode.BadUserNameOrPassword);
    }

    /// The role of a user whose password was accepted; null when Management:Roles gives it none.
    public ManagementRole? RoleOfUser(string user) => roles.TryGetValue(user, out var role) ? role : null;

    /// The name and role of a token the file holds.
    public (string Name, ManagementRole Role)? FindToken(string token) =>
        tokens is not null && tokens.Current.TryFind(token, out var name, out var role) ? (name, role) : null;

    private bool CheckToken(string token) => FindToken(token) is not null;

    private bool CheckPassword(string user, ReadOnlySpan<byte> password)
    {
        if (passwords is null || !passwords.Current.TryGetHash(user, out var hash))
            return false;
        // The hash is part of the key: a changed password does not match a remembered login.
        var key = RememberKey(user, password, hash);
        var now = time.GetTimestamp();
        if (_verified.TryGetValue(key, out var until) && until > now)
            return true;
        if (!PasswordHash.Verify(hash, password))
            return false;
        if (_verified.Count >= MaxRemembered)
            _verified.Clear();
        _verified[key] = now + (long)(s_rememberFor.TotalSeconds * time.TimestampFrequency);
        return true;
    }

    private string RememberKey(string user, ReadOnlySpan<byte> password, string hash)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _cacheKey);
        hmac.AppendData(Encoding.UTF8.GetBytes(user));
        hmac.AppendData([0]);
        hmac.AppendData(password);
        hmac.AppendData([0]);
        hmac.AppendData(Encoding.UTF8.GetBytes(hash));
        return Convert.ToBase64String(hmac.GetHashAndReset());
    }
}

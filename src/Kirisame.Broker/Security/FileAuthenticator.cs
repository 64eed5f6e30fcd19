using System.Collections.Concurrent;
using System.Security.Cryptography;
using Kirisame.Protocol;

namespace Kirisame.Broker.Security;

/// The built-in authenticator: a verified client certificate name, then the password file, then the
/// anonymous policy.
///
/// PBKDF2 with a high iteration count is deliberately slow (≈0.1 s), which would make every reconnect of a
/// fleet of devices cost a core. After a successful check we remember a keyed digest of the password
/// (HMAC-SHA256 under a per-process random key, never the password) next to the entry it matched; the same
/// password against the unchanged entry is then accepted with one HMAC. Wrong passwords always pay the
/// full price, and so do unknown users (against a dummy entry), so timing does not reveal which users exist.
///
/// As a source in Authentication:Sources (docs/adr/0018) it leaves to the next source what it does not know: a
/// user name that is not in the password file, any user name when there is no password file, a client without
/// one when anonymous clients are refused. A wrong password for a known user is refused outright.
public sealed class FileAuthenticator : IAuthenticator, IAuthenticationSource
{
    private static readonly string s_dummyEntry = PasswordHash.Create("kirisame-dummy"u8, 1000);

    private readonly WatchedFile<PasswordFile>? _passwords;
    private readonly bool _allowAnonymous;
    private readonly string? _defaultUser;
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, (string Entry, byte[] Digest)> _verified = new(StringComparer.Ordinal);

    public FileAuthenticator(WatchedFile<PasswordFile>? passwords, bool allowAnonymous, string? defaultUser)
    {
        _passwords = passwords;
        _allowAnonymous = allowAnonymous;
        _defaultUser = defaultUser;
    }

    /// Alone (the default, no Authentication:Sources chain): the verdicts it gives as a source, and a refusal is logged
    /// with its cause and counted as a chain's is (issue 18, item 4).
    public ValueTask<ReasonCode> AuthenticateAsync(ConnectContext context, CancellationToken cancellationToken)
    {
        // Without a password file user names are not checked (as in Mosquitto): only the anonymous switch decides. (As
        // a source it leaves such a user to the next source instead.)
        var verdict = context.UserName is not null && context.CertificateName is null && _passwords is null
            ? _allowAnonymous
                ? SourceVerdict.Allow()
                : SourceVerdict.Deny(ReasonCode.NotAuthorized, "no_password_file", "no password file, and anonymous clients are refused")
            : Decide(context);
        return ValueTask.FromResult(verdict.Decision == AuthenticationDecision.Allow ? ReasonCode.Success : AuthenticationChain.Refuse(context, Name, verdict));
    }

    public string Name => "file";

    public ValueTask<SourceVerdict> DecideAsync(ConnectContext context, CancellationToken cancellationToken) => ValueTask.FromResult(Decide(context));

    private SourceVerdict Decide(ConnectContext context)
    {
        if (context.CertificateName is { } certificateName)
        {
            // The transport verified the certificate against the listener's CA: that is the identity.
            context.AssignedUserName = certificateName;
            return SourceVerdict.Allow();
        }

        if (context.UserName is null)
        {
            if (!_allowAnonymous)
                return SourceVerdict.Ignore(ReasonCode.NotAuthorized, "anonymous", "no user name and anonymous clients are refused");
            context.AssignedUserName = _defaultUser;
            return SourceVerdict.Allow();
        }

        if (_passwords is null)
            return SourceVerdict.Ignore(ReasonCode.NotAuthorized, "no_password_file", "no password file to check the user against");

        var password = context.Password is { } given ? given.Span : default;
        if (!_passwords.Current.TryGetHash(context.UserName, out _))
        {
            PasswordHash.Verify(s_dummyEntry, password); // the same time as a known user's
            return SourceVerdict.Ignore(ReasonCode.BadUserNameOrPassword, "unknown_user", "user not in the password file");
        }

        return Verify(context.UserName, password)
            ? SourceVerdict.Allow()
            : SourceVerdict.Deny(ReasonCode.BadUserNameOrPassword, "bad_password", "wrong password");
    }

    private bool Verify(string userName, ReadOnlySpan<byte> password)
    {
        if (!_passwords!.Current.TryGetHash(userName, out var entry))
        {
            PasswordHash.Verify(s_dummyEntry, password);
            return false;
        }

        Span<byte> digest = stackalloc byte[32];
        HMACSHA256.HashData(_cacheKey, password, digest);
        if (_verified.TryGetValue(userName, out var known) && known.Entry == entry && CryptographicOperations.FixedTimeEquals(known.Digest, digest))
            return true;
        if (!PasswordHash.Verify(entry, password))
            return false;
        _verified[userName] = (entry, digest.ToArray());
        return true;
    }
}

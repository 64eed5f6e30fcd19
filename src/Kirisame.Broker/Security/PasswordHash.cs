using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;

namespace Kirisame.Broker.Security;

/// Password hashes in the formats of Mosquitto's password files, so files made by `mosquitto_passwd` work
/// unchanged and ours work in Mosquitto:
///   $6$SALT$HASH          HASH = SHA-512(password ‖ salt)              (mosquitto_passwd -H sha512, ≤ 1.6)
///   $7$ITER$SALT$HASH     HASH = PBKDF2-HMAC-SHA512(password, salt, ITER, 64 bytes)   (2.0 default)
/// SALT and HASH are standard base64 of the raw bytes. We write $7$ with many more iterations than
/// Mosquitto's 101; the iteration count is part of the entry, so both read either.
///
/// One format of our own, for users who log in with SCRAM-SHA-256 (MQTT 5 enhanced authentication) as well
/// as with a plain password (issue 4). It keeps what RFC 5802 section 3 says a server stores, as RFC 5803
/// does for LDAP, and never the password:
///   $scram-sha256$ITER$SALT$STOREDKEY$SERVERKEY
///     SaltedPassword = PBKDF2-HMAC-SHA256(password, salt, ITER, 32 bytes)
///     STOREDKEY = SHA-256(HMAC-SHA256(SaltedPassword, "Client Key")), SERVERKEY = HMAC-SHA256(SaltedPassword, "Server Key")
/// Mosquitto does not read these entries.
public static class PasswordHash
{
    /// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA512.
    public const int DefaultIterations = 210_000;

    /// A file entry must not make one login cost minutes (or overflow).
    public const int MaximumIterations = 10_000_000;

    /// RFC 7677's minimum, and what PostgreSQL and Kafka use: every SCRAM client pays it on each connect.
    public const int DefaultScramIterations = 4096;

    public const string ScramPrefix = "$scram-sha256$";

    private const int SaltLength = 12; // what mosquitto_passwd uses
    private const int HashLength = 64;
    private const int ScramKeyLength = 32;

    public static string Create(ReadOnlySpan<byte> password, int iterations = DefaultIterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(iterations, MaximumIterations);
        Span<byte> salt = stackalloc byte[SaltLength];
        RandomNumberGenerator.Fill(salt);
        Span<byte> hash = stackalloc byte[HashLength];
        Rfc2898DeriveBytes.Pbkdf2(password, salt, hash, iterations, HashAlgorithmName.SHA512);
        return $"$7${iterations.ToString(CultureInfo.InvariantCulture)}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    /// A $scram-sha256$ entry for the password (see the class comment), with a 16-byte random salt.
    public static string CreateScramSha256(ReadOnlySpan<byte> password, int iterations = DefaultScramIterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(iterations, MaximumIterations);
        return Format(ScramCredential.FromPassword(password, iterations));
    }

    public static string Format(ScramCredential credential) =>
        $"{ScramPrefix}{credential.Iterations.ToString(CultureInfo.InvariantCulture)}${Convert.ToBase64String(credential.Salt)}"
        + $"${Convert.ToBase64String(credential.StoredKey)}${Convert.ToBase64String(credential.ServerKey)}";

    /// The SCRAM credential of a $scram-sha256$ entry; false for any other (or a malformed) entry.
    public static bool TryGetScramCredential(string encoded, [NotNullWhen(true)] out ScramCredential? credential)
    {
        credential = null;
        if (!encoded.StartsWith(ScramPrefix, StringComparison.Ordinal) || ParseScram(encoded, out var parsed) is not null)
            return false;
        credential = parsed!;
        return true;
    }

    /// Is <paramref name="encoded"/> a hash this class can verify? Used when loading a file, so a bad
    /// entry is reported at load time rather than as a failed login.
    public static bool IsValid(string encoded, out string? problem)
    {
        problem = Parse(encoded, out _, out _, out _);
        return problem is null;
    }

    /// Constant-time comparison of the derived hash; false for malformed entries.
    public static bool Verify(string encoded, ReadOnlySpan<byte> password)
    {
        if (encoded.StartsWith(ScramPrefix, StringComparison.Ordinal))
            return ParseScram(encoded, out var credential) is null && VerifyScram(credential!, password);
        if (Parse(encoded, out var iterations, out var salt, out var expected) is not null)
            return false;
        Span<byte> actual = stackalloc byte[expected!.Length];
        if (iterations == 0)
        {
            // $6$: one SHA-512 over password then salt.
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
            sha.AppendData(password);
            sha.AppendData(salt);
            if (!sha.TryGetHashAndReset(actual, out _))
                return false;
        }
        else
        {
            Rfc2898DeriveBytes.Pbkdf2(password, salt, actual, iterations, HashAlgorithmName.SHA512);
        }

        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// A plain password against a SCRAM entry: derive the ClientKey as a SCRAM client would and compare
    /// its hash with the StoredKey (RFC 5802 section 3).
    private static bool VerifyScram(ScramCredential credential, ReadOnlySpan<byte> password)
    {
        Span<byte> salted = stackalloc byte[ScramKeyLength];
        Rfc2898DeriveBytes.Pbkdf2(password, credential.Salt, salted, credential.Iterations, HashAlgorithmName.SHA256);
        Span<byte> clientKey = stackalloc byte[ScramKeyLength];
        HMACSHA256.HashData(salted, "Client Key"u8, clientKey);
        Span<byte> storedKey = stackalloc byte[ScramKeyLength];
        SHA256.HashData(clientKey, storedKey);
        return CryptographicOperations.FixedTimeEquals(storedKey, credential.StoredKey);
    }

    private static string? ParseScram(string encoded, out ScramCredential? credential)
    {
        credential = null;
        // "$scram-sha256$iter$salt$stored$server" splits into ["", "scram-sha256", iter, salt, stored, server].
        var parts = encoded.Split('$');
        if (parts.Length != 6)
            return "a $scram-sha256$ entry has the form $scram-sha256$ITERATIONS$SALT$STOREDKEY$SERVERKEY";
        if (!int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations) || iterations is < 1 or > MaximumIterations)
            return $"iteration count must be between 1 and {MaximumIterations}";
        if (!Base64.IsValid(parts[3]) || !Base64.IsValid(parts[4]) || !Base64.IsValid(parts[5]))
            return "salt and keys must be base64";
        var salt = Convert.FromBase64String(parts[3]);
        var storedKey = Convert.FromBase64String(parts[4]);
        var serverKey = Convert.FromBase64String(parts[5]);
        if (salt.Length == 0 || storedKey.Length != ScramKeyLength || serverKey.Length != ScramKeyLength)
            return "salt is empty or a key is not 32 bytes";
        credential = new ScramCredential(salt, iterations, storedKey, serverKey);
        return null;
    }

    /// Returns null when well-formed, else what is wrong. iterations is 0 for the $6$ format.
    private static string? Parse(string encoded, out int iterations, out byte[] salt, out byte[]? hash)
    {
        iterations = 0;
        salt = [];
        hash = null;
        if (encoded.StartsWith(ScramPrefix, StringComparison.Ordinal))
            return ParseScram(encoded, out _);
        var parts = encoded.Split('$');
        // "$6$salt$hash" splits into ["", "6", salt, hash]; "$7$iter$salt$hash" into ["", "7", iter, salt, hash].
        if (parts.Length < 4 || parts[0].Length != 0)
            return "not a hashed password (expected $6$…, $7$… or $scram-sha256$…; plain-text passwords are not accepted)";
        string saltText, hashText;
        switch (parts[1])
        {
            case "6" when parts.Length == 4:
                (saltText, hashText) = (parts[2], parts[3]);
                break;
            case "7" when parts.Length == 5:
                if (!int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out iterations) || iterations is < 1 or > MaximumIterations)
                    return $"iteration count must be between 1 and {MaximumIterations}";
                (saltText, hashText) = (parts[3], parts[4]);
                break;
            default:
                return $"unsupported hash type ${parts[1]}$ (supported: $6$ SHA-512, $7$ PBKDF2-SHA512 and $scram-sha256$)";
        }

        if (!Base64.IsValid(saltText) || !Base64.IsValid(hashText))
            return "salt and hash must be base64";
        salt = Convert.FromBase64String(saltText);
        hash = Convert.FromBase64String(hashText);
        if (salt.Length == 0 || hash.Length != HashLength)
            return "salt is empty or the hash is not 64 bytes";
        return null;
    }
}

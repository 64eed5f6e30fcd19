using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;

namespace Kirisame.Broker.Security;

/// Password hashes in the formats of Mosquitto's password files, so files made by `mosquitto_passwd` work
/// unchanged and ours work in Mosquitto:
///   $6$SALT$HASH          HASH = SHA-512(password ‖ salt)              (mosquitto_passwd -H sha512, ≤ 1.6)
///   $7$ITER$SALT$HASH     HASH = PBKDF2-HMAC-SHA512(password, salt, ITER, 64 bytes)   (2.0 default)
/// SALT and HASH are standard base64 of the raw bytes. We write $7$ with many more iterations than
/// Mosquitto's 101; the iteration count is part of the entry, so both read either.
public static class PasswordHash
{
    /// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA512.
    public const int DefaultIterations = 210_000;

    /// A file entry must not make one login cost minutes (or overflow).
    public const int MaximumIterations = 10_000_000;

    private const int SaltLength = 12; // what mosquitto_passwd uses
    private const int HashLength = 64;

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

    /// Returns null when well-formed, else what is wrong. iterations is 0 for the $6$ format.
    private static string? Parse(string encoded, out int iterations, out byte[] salt, out byte[]? hash)
    {
        iterations = 0;
        salt = [];
        hash = null;
        var parts = encoded.Split('$');
        // "$6$salt$hash" splits into ["", "6", salt, hash]; "$7$iter$salt$hash" into ["", "7", iter, salt, hash].
        if (parts.Length < 4 || parts[0].Length != 0)
            return "not a hashed password (expected $6$… or $7$…; plain-text passwords are not accepted)";
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
                return $"unsupported hash type ${parts[1]}$ (supported: $6$ SHA-512 and $7$ PBKDF2-SHA512)";
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

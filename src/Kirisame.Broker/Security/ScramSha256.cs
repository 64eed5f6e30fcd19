using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Kirisame.Protocol;

namespace Kirisame.Broker.Security;

/// What the server keeps for a SCRAM user (RFC 5802 section 3): never the password itself.
public sealed record ScramCredential(byte[] Salt, int Iterations, byte[] StoredKey, byte[] ServerKey)
{
    public static ScramCredential FromPassword(string password, int iterations = PasswordHash.DefaultScramIterations, byte[]? salt = null) =>
        FromPassword(Encoding.UTF8.GetBytes(password), iterations, salt);

    public static ScramCredential FromPassword(ReadOnlySpan<byte> password, int iterations = PasswordHash.DefaultScramIterations, byte[]? salt = null)
    {
        salt ??= RandomNumberGenerator.GetBytes(16);
        var salted = Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA256, 32);
        var clientKey = HMACSHA256.HashData(salted, "Client Key"u8);
        var serverKey = HMACSHA256.HashData(salted, "Server Key"u8);
        return new ScramCredential(salt, iterations, SHA256.HashData(clientKey), serverKey);
    }
}

public interface IScramCredentialStore
{
    public bool TryGet(string userName, out ScramCredential credential);
}

public sealed class InMemoryScramCredentials : IScramCredentialStore
{
    private readonly ConcurrentDictionary<string, ScramCredential> _users = new(StringComparer.Ordinal);

    public void Add(string userName, string password, int iterations = 4096) => _users[userName] = ScramCredential.FromPassword(password, iterations);

    public bool TryGet(string userName, out ScramCredential credential) => _users.TryGetValue(userName, out credential!);
}

/// SCRAM users from the password file: its $scram-sha256$ entries, re-read when the file changes like the
/// rest of it. Users with a $6$ or $7$ entry cannot use SCRAM (their entry does not hold what SCRAM needs).
public sealed class PasswordFileScramCredentials(WatchedFile<PasswordFile> passwords) : IScramCredentialStore
{
    public bool TryGet(string userName, out ScramCredential credential) => passwords.Current.TryGetScramCredential(userName, out credential!);
}

/// Asks each store in turn (the password file, then the deprecated Authentication:Scram:Users section).
public sealed class ScramCredentialStores(params IScramCredentialStore[] stores) : IScramCredentialStore
{
    public bool TryGet(string userName, out ScramCredential credential)
    {
        foreach (var store in stores)
        {
            if (store.TryGet(userName, out credential))
                return true;
        }

        credential = null!;
        return false;
    }
}

/// SCRAM-SHA-256 (RFC 5802, RFC 7677) over MQTT 5 AUTH: client-first in CONNECT, server-first in AUTH 0x18,
/// client-final in AUTH 0x18, server-final in CONNACK (or AUTH 0x00 when re-authenticating).
/// Channel binding is not offered ("n,," only).
public sealed class ScramSha256Method(IScramCredentialStore store) : IEnhancedAuthenticationMethod
{
    public string Name => "SCRAM-SHA-256";

    public IAuthenticationExchange Begin(ConnectContext context) => new Exchange(store);

    private sealed class Exchange(IScramCredentialStore store) : IAuthenticationExchange
    {
        private int _state;
        private string _clientFirstBare = "";
        private string _serverFirst = "";
        private string _nonce = "";
        private string _user = "";
        private ScramCredential? _credential;

        public string? UserName { get; private set; }

        public ValueTask<AuthenticationStep> StepAsync(ReadOnlyMemory<byte> clientData) => ValueTask.FromResult(Step(clientData.Span));

        private AuthenticationStep Step(ReadOnlySpan<byte> clientData)
        {
            string message;
            try
            {
                message = new UTF8Encoding(false, true).GetString(clientData);
            }
            catch (DecoderFallbackException)
            {
                return AuthenticationStep.Fail(ReasonCode.MalformedPacket);
            }

            return _state++ switch
            {
                0 => ClientFirst(message),
                1 => ClientFinal(message),
                _ => AuthenticationStep.Fail(ReasonCode.ProtocolError),
            };
        }

        private AuthenticationStep ClientFirst(string message)
        {
            // gs2-header "n,," (no channel binding, no authzid), then "n=user,r=nonce".
            if (!message.StartsWith("n,,", StringComparison.Ordinal))
                return AuthenticationStep.Fail(ReasonCode.BadAuthenticationMethod);
            _clientFirstBare = message[3..];
            var fields = Parse(_clientFirstBare);
            if (!fields.TryGetValue('n', out var user) || !fields.TryGetValue('r', out var clientNonce) || clientNonce.Length == 0)
                return AuthenticationStep.Fail(ReasonCode.MalformedPacket);
            _user = user.Replace("=2C", ",", StringComparison.Ordinal).Replace("=3D", "=", StringComparison.Ordinal);
            // An unknown user gets a made-up salt so the answer does not reveal who exists; it fails at the end.
            _credential = store.TryGet(_user, out var credential) ? credential : null;
            var salt = _credential?.Salt ?? SHA256.HashData(Encoding.UTF8.GetBytes("kirisame-unknown:" + _user))[..16];
            var iterations = _credential?.Iterations ?? 4096;
            _nonce = clientNonce + Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
            _serverFirst = $"r={_nonce},s={Convert.ToBase64String(salt)},i={iterations}";
            return new AuthenticationStep(AuthenticationOutcome.Continue, Encoding.UTF8.GetBytes(_serverFirst));
        }

        private AuthenticationStep ClientFinal(string message)
        {
            var proofAt = message.LastIndexOf(",p=", StringComparison.Ordinal);
            if (proofAt < 0)
                return AuthenticationStep.Fail(ReasonCode.MalformedPacket);
            var withoutProof = message[..proofAt];
            var fields = Parse(withoutProof);
            if (!fields.TryGetValue('c', out var binding) || binding != "biws" || !fields.TryGetValue('r', out var nonce) || nonce != _nonce)
                return AuthenticationStep.Fail(ReasonCode.NotAuthorized);
            byte[] proof;
            try
            {
                proof = Convert.FromBase64String(message[(proofAt + 3)..]);
            }
            catch (FormatException)
            {
                return AuthenticationStep.Fail(ReasonCode.MalformedPacket);
            }

            if (_credential is null || proof.Length != 32)
                return AuthenticationStep.Fail(ReasonCode.BadUserNameOrPassword);
            var authMessage = Encoding.UTF8.GetBytes($"{_clientFirstBare},{_serverFirst},{withoutProof}");
            var clientSignature = HMACSHA256.HashData(_credential.StoredKey, authMessage);
            var clientKey = new byte[32];
            for (var i = 0; i < 32; i++)
                clientKey[i] = (byte)(proof[i] ^ clientSignature[i]);
            if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(clientKey), _credential.StoredKey))
                return AuthenticationStep.Fail(ReasonCode.BadUserNameOrPassword);
            UserName = _user;
            var serverSignature = HMACSHA256.HashData(_credential.ServerKey, authMessage);
            return new AuthenticationStep(AuthenticationOutcome.Success, Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(serverSignature)));
        }

        private static Dictionary<char, string> Parse(string message)
        {
            var fields = new Dictionary<char, string>();
            foreach (var part in message.Split(','))
            {
                if (part.Length >= 2 && part[1] == '=')
                    fields.TryAdd(part[0], part[2..]);
            }

            return fields;
        }
    }
}

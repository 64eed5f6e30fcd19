using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MQTTnet;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests;

/// The client side of SCRAM-SHA-256 (RFC 5802, no channel binding) as an MQTTnet enhanced-authentication
/// handler. MQTTnet calls it for every AUTH packet: AUTH 0x18 carries the server-first message and is
/// answered with client-final; AUTH 0x00 ends a re-authentication with the server-final message.
internal sealed class ScramAuthenticationHandler(string user, string password) : IMqttEnhancedAuthenticationHandler
{
    public const string Method = "SCRAM-SHA-256";

    private string _clientNonce = "";
    private string _clientFirstBare = "";
    private byte[] _authMessage = [];
    private byte[] _saltedPassword = [];
    private TaskCompletionSource<byte[]> _serverFinal = NewServerFinal();

    /// Starts a conversation: the client-first message, for CONNECT or for AUTH 0x19.
    public byte[] ClientFirst()
    {
        _clientNonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
        _clientFirstBare = $"n={user.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal)},r={_clientNonce}";
        _serverFinal = NewServerFinal();
        return Encoding.UTF8.GetBytes("n,," + _clientFirstBare);
    }

    /// The server-final message of a re-authentication (AUTH 0x00); a first authentication ends in CONNACK.
    public Task<byte[]> ReauthenticationCompleted => _serverFinal.Task;

    /// Whether the server-final message proves the server holds this user's key (RFC 5802 section 3).
    public bool IsServerSignatureValid(byte[]? serverFinal)
    {
        if (serverFinal is null || _authMessage.Length == 0)
            return false;
        var serverKey = HMACSHA256.HashData(_saltedPassword, "Server Key"u8);
        var expected = "v=" + Convert.ToBase64String(HMACSHA256.HashData(serverKey, _authMessage));
        return Encoding.UTF8.GetString(serverFinal) == expected;
    }

    public async Task HandleEnhancedAuthenticationAsync(MqttEnhancedAuthenticationEventArgs eventArgs)
    {
        switch (eventArgs.ReasonCode)
        {
            case MqttAuthenticateReasonCode.ContinueAuthentication:
                await eventArgs.SendAsync(new SendMqttEnhancedAuthenticationDataOptions { Data = ClientFinal(eventArgs.AuthenticationData) },
                    eventArgs.CancellationToken);
                break;
            case MqttAuthenticateReasonCode.Success:
                _serverFinal.TrySetResult(eventArgs.AuthenticationData ?? []);
                break;
            default:
                _serverFinal.TrySetException(new InvalidOperationException($"Unexpected AUTH reason {eventArgs.ReasonCode}."));
                break;
        }
    }

    /// The client-final message answering <paramref name="serverFirstBytes"/>; the hostile-client campaign
    /// drives the exchange over raw sockets with it.
    public byte[] ClientFinal(byte[] serverFirstBytes)
    {
        var serverFirst = Encoding.UTF8.GetString(serverFirstBytes);
        var fields = serverFirst.Split(',').Where(f => f.Length >= 2 && f[1] == '=').ToDictionary(f => f[0], f => f[2..]);
        if (!fields['r'].StartsWith(_clientNonce, StringComparison.Ordinal))
            throw new InvalidOperationException("The server nonce does not extend the client nonce.");
        _saltedPassword = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), Convert.FromBase64String(fields['s']),
            int.Parse(fields['i'], CultureInfo.InvariantCulture), HashAlgorithmName.SHA256, 32);
        var withoutProof = $"c=biws,r={fields['r']}";
        _authMessage = Encoding.UTF8.GetBytes($"{_clientFirstBare},{serverFirst},{withoutProof}");
        var clientKey = HMACSHA256.HashData(_saltedPassword, "Client Key"u8);
        var clientSignature = HMACSHA256.HashData(SHA256.HashData(clientKey), _authMessage);
        var proof = new byte[clientKey.Length];
        for (var i = 0; i < proof.Length; i++)
            proof[i] = (byte)(clientKey[i] ^ clientSignature[i]);
        return Encoding.UTF8.GetBytes($"{withoutProof},p={Convert.ToBase64String(proof)}");
    }

    private static TaskCompletionSource<byte[]> NewServerFinal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

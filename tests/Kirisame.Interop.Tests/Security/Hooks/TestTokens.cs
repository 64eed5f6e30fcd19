using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.X509;

namespace Kirisame.Interop.Tests.Security.Hooks;

/// JSON Web Tokens made by hand (base64url JSON and the BCL's signatures), independently of the library the broker
/// checks them with.
internal static class TestTokens
{
    private static readonly JsonSerializerOptions s_withoutNulls = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    public static string Hs256(byte[] secret, object claims, string? kid = null) =>
        Sign(new { alg = "HS256", typ = "JWT", kid }, claims, data => HMACSHA256.HashData(secret, data));

    public static string Rs256(RSA key, object claims, string? kid = null) =>
        Sign(new { alg = "RS256", typ = "JWT", kid }, claims, data => key.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    /// ES256 signatures are r‖s (IEEE P1363), which is what ECDsa.SignData gives.
    public static string Es256(ECDsa key, object claims, string? kid = null) =>
        Sign(new { alg = "ES256", typ = "JWT", kid }, claims, data => key.SignData(data, HashAlgorithmName.SHA256));

    /// EdDSA over Ed25519 (RFC 8037) with BouncyCastle: .NET has no Ed25519.
    public static string EdDsa(Ed25519PrivateKeyParameters key, object claims, string? kid = null) =>
        Sign(new { alg = "EdDSA", typ = "JWT", kid }, claims, data =>
        {
            var signer = new Ed25519Signer();
            signer.Init(true, key);
            signer.BlockUpdate(data, 0, data.Length);
            return signer.GenerateSignature();
        });

    /// A new Ed25519 key pair.
    public static Ed25519PrivateKeyParameters NewEd25519Key() => new(new SecureRandom());

    /// The public half as a PEM "PUBLIC KEY" (SubjectPublicKeyInfo), as `openssl pkey -pubout` writes it.
    public static string Ed25519PublicPem(Ed25519PrivateKeyParameters key) =>
        new string(PemEncoding.Write("PUBLIC KEY", SubjectPublicKeyInfoFactory.CreateSubjectPublicKeyInfo(key.GeneratePublicKey()).GetEncoded()));

    /// A JWKS document holding Ed25519 public keys ("kty": "OKP"), by key id.
    public static string OkpJwks(params (string Kid, Ed25519PrivateKeyParameters Key)[] keys) => JsonSerializer.Serialize(new
    {
        keys = keys.Select(k => new { kty = "OKP", crv = "Ed25519", use = "sig", kid = k.Kid, x = Encode(k.Key.GeneratePublicKey().GetEncoded()) }).ToArray(),
    });

    /// The token with its payload replaced by <paramref name="claims"/> and its signature kept: a forgery.
    public static string WithPayload(string token, object claims)
    {
        var parts = token.Split('.');
        return $"{parts[0]}.{Encode(JsonSerializer.SerializeToUtf8Bytes(claims))}.{parts[2]}";
    }

    /// An unsigned token: "alg": "none" and an empty signature.
    public static string Unsigned(object claims) =>
        $"{Encode(JsonSerializer.SerializeToUtf8Bytes(new { alg = "none", typ = "JWT" }))}.{Encode(JsonSerializer.SerializeToUtf8Bytes(claims))}.";

    /// An HS256 secret as a secret file holds it: text (64 hex digits). The server drops a trailing line break (an
    /// editor's), so random bytes would be cut short whenever the last one happened to be CR or LF.
    public static byte[] NewSecret() => System.Text.Encoding.ASCII.GetBytes(Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));

    public static long In(TimeSpan delay) => DateTimeOffset.UtcNow.Add(delay).ToUnixTimeSeconds();

    /// A JWKS document holding the public halves of EC P-256 keys, by key id.
    public static string Jwks(params (string Kid, ECDsa Key)[] keys) => JsonSerializer.Serialize(new
    {
        keys = keys.Select(k =>
        {
            var p = k.Key.ExportParameters(includePrivateParameters: false);
            return new { kty = "EC", crv = "P-256", use = "sig", alg = "ES256", kid = k.Kid, x = Encode(p.Q.X!), y = Encode(p.Q.Y!) };
        }).ToArray(),
    });

    private static string Sign(object header, object claims, Func<byte[], byte[]> sign)
    {
        var signed = $"{Encode(JsonSerializer.SerializeToUtf8Bytes(header, s_withoutNulls))}.{Encode(JsonSerializer.SerializeToUtf8Bytes(claims))}";
        return $"{signed}.{Encode(sign(Encoding.ASCII.GetBytes(signed)))}";
    }

    private static string Encode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

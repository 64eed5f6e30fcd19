using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace Kirisame.Server.Authentication;

/// An Ed25519 public key for "alg": "EdDSA" tokens (RFC 8037). Microsoft.IdentityModel has no EdDSA, so the key
/// brings its own crypto provider, which the token handler asks before its built-in ones; the signature check itself
/// is BouncyCastle's (managed code, no native library: docs/adr/0018).
internal sealed class Ed25519SecurityKey : AsymmetricSecurityKey
{
    public const string Algorithm = "EdDSA";

    /// DER prefix of a SubjectPublicKeyInfo holding an Ed25519 key (RFC 8410, OID 1.3.101.112): the key's 32 bytes follow.
    private static readonly byte[] s_spkiPrefix = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00];

    private static readonly CryptoProviderFactory s_factory = new() { CustomCryptoProvider = new Provider() };

    public Ed25519SecurityKey(byte[] publicKey, string? keyId = null)
    {
        if (publicKey.Length != Ed25519PublicKeyParameters.KeySize)
            throw new FormatException($"an Ed25519 public key is {Ed25519PublicKeyParameters.KeySize} bytes, not {publicKey.Length}");
        PublicKey = new Ed25519PublicKeyParameters(publicKey);
        KeyId = keyId;
        CryptoProviderFactory = s_factory;
    }

    public Ed25519PublicKeyParameters PublicKey { get; }

    [Obsolete("HasPrivateKey is obsolete in the base class; PrivateKeyStatus says the same.")]
    public override bool HasPrivateKey => false;

    public override PrivateKeyStatus PrivateKeyStatus => PrivateKeyStatus.DoesNotExist;

    public override int KeySize => 256;

    /// A PEM "PUBLIC KEY" (SubjectPublicKeyInfo) holding an Ed25519 key, as `openssl pkey -pubout` writes; null when
    /// the PEM holds another kind of key.
    public static Ed25519SecurityKey? FromPem(string pem)
    {
        if (!PemEncoding.TryFind(pem, out var fields) || pem[fields.Label] is not "PUBLIC KEY")
            return null;
        var der = Convert.FromBase64String(pem[fields.Base64Data]);
        return der.Length == s_spkiPrefix.Length + Ed25519PublicKeyParameters.KeySize && der.AsSpan().StartsWith(s_spkiPrefix)
            ? new Ed25519SecurityKey(der[s_spkiPrefix.Length..])
            : null;
    }

    private sealed class Provider : ICryptoProvider
    {
        public bool IsSupportedAlgorithm(string algorithm, params object[] args) =>
            algorithm == Algorithm && args is [Ed25519SecurityKey, ..];

        public object Create(string algorithm, params object[] args) => new Verifier((Ed25519SecurityKey)args[0]);

        public void Release(object cryptoInstance) => (cryptoInstance as IDisposable)?.Dispose();
    }

    /// Verifies only: the broker never signs tokens.
    private sealed class Verifier(Ed25519SecurityKey key) : SignatureProvider(key, Ed25519SecurityKey.Algorithm)
    {
        public override byte[] Sign(byte[] input) => throw new NotSupportedException("Kirisame only verifies Ed25519 signatures.");

        public override bool Verify(byte[] input, byte[] signature) => Verify(input, 0, input.Length, signature, 0, signature.Length);

        public override bool Verify(byte[] input, int inputOffset, int inputLength, byte[] signature, int signatureOffset, int signatureLength)
        {
            if (signatureLength != Org.BouncyCastle.Math.EC.Rfc8032.Ed25519.SignatureSize)
                return false;
            var verifier = new Ed25519Signer();
            verifier.Init(false, key.PublicKey);
            verifier.BlockUpdate(input, inputOffset, inputLength);
            return verifier.VerifySignature(signature.AsSpan(signatureOffset, signatureLength).ToArray());
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}

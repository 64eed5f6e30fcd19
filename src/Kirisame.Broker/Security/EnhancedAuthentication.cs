using Kirisame.Protocol;

namespace Kirisame.Broker.Security;

/// An MQTT 5 enhanced authentication method (section 4.12), e.g. SCRAM-SHA-256. The broker starts one
/// exchange per CONNECT (or re-authentication) that names it.
public interface IEnhancedAuthenticationMethod
{
    /// The Authentication Method string clients send.
    public string Name { get; }

    public IAuthenticationExchange Begin(ConnectContext context);
}

/// One challenge/response conversation. Each client message (Authentication Data from CONNECT or AUTH)
/// yields the next step. A step may wait (a JWT's keys fetched from a JWKS URL); the connection reads no further
/// packet meanwhile.
public interface IAuthenticationExchange
{
    public ValueTask<AuthenticationStep> StepAsync(ReadOnlyMemory<byte> clientData);

    /// The authenticated identity, once the exchange has succeeded.
    public string? UserName { get; }
}

public enum AuthenticationOutcome
{
    /// Send the data to the client in AUTH 0x18 and wait for its answer.
    Continue,

    /// Done: the data (if any) goes to the client in CONNACK or AUTH 0x00.
    Success,

    /// Refused with <see cref="AuthenticationStep.Failure"/>.
    Failure,
}

public readonly record struct AuthenticationStep(AuthenticationOutcome Outcome, byte[]? Data = null, ReasonCode Failure = ReasonCode.NotAuthorized)
{
    public static AuthenticationStep Fail(ReasonCode reason = ReasonCode.NotAuthorized) => new(AuthenticationOutcome.Failure, null, reason);
}

using Kirisame.Protocol;

namespace Kirisame.Broker.Security;

/// An MQTT 5 enhanced authentication method whose exchange is one message (docs/adr/0018): the Authentication Data of
/// CONNECT, or of AUTH 0x19 when re-authenticating (section 4.12.1), is a credential that one authentication source
/// checks as it checks a CONNECT password — a JWT. What the source attaches (the client's rules, its expiry, its user
/// name) goes on the exchange's context, which the connection applies; a refusal is logged and counted as the
/// chain's are.
public sealed class TokenAuthenticationMethod(string name, IAuthenticationSource source) : IEnhancedAuthenticationMethod
{
    public string Name => name;

    public IAuthenticationExchange Begin(ConnectContext context) => new Exchange(source, context);

    private sealed class Exchange(IAuthenticationSource source, ConnectContext context) : IAuthenticationExchange
    {
        private bool _stepped;

        public string? UserName { get; private set; }

        public async ValueTask<AuthenticationStep> StepAsync(ReadOnlyMemory<byte> clientData)
        {
            // The token came with the first message; this method has no second one to continue with.
            if (_stepped)
                return AuthenticationStep.Fail(ReasonCode.ProtocolError);
            _stepped = true;

            var asPassword = context with { Password = clientData };
            var verdict = await source.DecideAsync(asPassword, CancellationToken.None);
            if (verdict.Decision != AuthenticationDecision.Allow)
                return AuthenticationStep.Fail(AuthenticationChain.Refuse(context, source.Name, verdict));

            context.AssignedUserName = UserName = asPassword.AssignedUserName;
            context.ClientAuthorizer = asPassword.ClientAuthorizer;
            context.ExpiresAt = asPassword.ExpiresAt;
            context.AssignedTenant = asPassword.AssignedTenant;
            return new AuthenticationStep(AuthenticationOutcome.Success);
        }
    }
}

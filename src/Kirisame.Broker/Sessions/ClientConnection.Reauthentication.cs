using Kirisame.Broker.Security;
using Kirisame.Protocol;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Sessions;

/// Re-authentication (section 4.12.1): a client that connected with enhanced authentication may run a new exchange
/// of the same method at any time after CONNACK, starting with AUTH 0x19 Re-authenticate.
internal sealed partial class ClientConnection
{
    /// Made at CONNACK only for a client that connected with enhanced authentication (most do not, and carry
    /// nothing for it): the method, which a re-authentication must use [MQTT-4.12.0-5], and the exchange in
    /// progress with what it learns of the client.
    private Reauthentication? _reauthentication;

    private sealed class Reauthentication(string method)
    {
        public string Method { get; } = method;

        public IAuthenticationExchange? Exchange { get; set; }

        public ConnectContext? Context { get; set; }
    }

    /// An AUTH after CONNACK. Returns false when the connection must close.
    private async ValueTask<bool> HandleReauthenticationAsync(RawPacket raw)
    {
        if (ReadAuth(raw, _reauthentication?.Method) is not { } auth)
            return false;
        var state = _reauthentication!;
        if (auth.ReasonCode == ReasonCode.ReAuthenticate)
        {
            // [MQTT-4.12.1-1]: a new exchange of the method chosen in CONNECT (ReadAuth checked it).
            state.Context = new ConnectContext(ClientId, UserName, null, Info.RemoteEndPoint, Info.SecurityListener, Version)
            {
                CertificateName = Info.CertificateName,
                Tenant = _broker.TenantName ?? Tenants.TenantDirectory.DefaultTenant,
            };
            state.Exchange = _broker.FindAuthenticationMethod(state.Method)!.Begin(state.Context);
        }
        else if (auth.ReasonCode != ReasonCode.ContinueAuthentication || state.Exchange is null)
        {
            RequestClose(ReasonCode.ProtocolError, "unexpected AUTH");
            return false;
        }

        var step = await state.Exchange.StepAsync(auth.Properties?.AuthenticationData ?? []);
        // A connection stays in its tenant: a token for another one does not renew it.
        if (step.Outcome == AuthenticationOutcome.Success && state.Context!.AssignedTenant is { } assigned && assigned != state.Context.Tenant)
        {
            state.Context.RefusalReason = $"the token names tenant '{assigned}', the connection is in tenant '{state.Context.Tenant}'";
            step = AuthenticationStep.Fail(ReasonCode.NotAuthorized);
        }

        switch (step.Outcome)
        {
            case AuthenticationOutcome.Continue:
                EnqueuePacket(new AuthPacket
                {
                    ReasonCode = ReasonCode.ContinueAuthentication,
                    Properties = new MqttProperties { AuthenticationMethod = state.Method, AuthenticationData = step.Data },
                });
                return true;
            case AuthenticationOutcome.Success:
                UserName = state.Exchange.UserName ?? UserName;
                state.Exchange = null;
                ApplyReauthentication(state.Context!);
                state.Context = null;
                EnqueuePacket(new AuthPacket
                {
                    ReasonCode = ReasonCode.Success,
                    Properties = new MqttProperties { AuthenticationMethod = state.Method, AuthenticationData = step.Data },
                });
                return true;
            default:
                state.Exchange = null;
                var why = "re-authentication refused" + (state.Context?.RefusalReason is { } cause ? $": {cause}" : $" ({step.Failure})");
                state.Context = null;
                if (MayLog("refused re-authentication"))
                    Logger.LogInformation("Client {ClientId} ({Remote}): {Why}; disconnecting", LogName, Info.RemoteEndPoint, why);
                // A failed re-authentication ends the connection [MQTT-4.12.1-2].
                RequestClose(step.Failure == ReasonCode.BadUserNameOrPassword ? ReasonCode.NotAuthorized : step.Failure, why);
                return false;
        }
    }
}

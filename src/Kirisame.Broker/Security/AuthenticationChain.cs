using Kirisame.Protocol;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Security;

/// What one authentication source says about a CONNECT (as EMQX's authenticators: allow, deny, or no opinion).
public enum AuthenticationDecision
{
    /// Admitted: the chain stops here.
    Allow,

    /// Refused: the chain stops here, with <see cref="SourceVerdict.Reason"/>.
    Deny,

    /// Not this source's client (no token, unknown user, the hook said "ignore"): the next source decides.
    Ignore,
}

/// A source's answer. <see cref="Label"/> is a short fixed word for the metrics (a bounded label, never client
/// input); <see cref="Detail"/> is the cause for the log line and the v5 Reason String. Neither may contain a
/// password or a token.
public readonly record struct SourceVerdict(AuthenticationDecision Decision, ReasonCode Reason, string Label, string? Detail = null)
{
    public static SourceVerdict Allow() => new(AuthenticationDecision.Allow, ReasonCode.Success, "allowed");

    public static SourceVerdict Deny(ReasonCode reason, string label, string? detail = null) => new(AuthenticationDecision.Deny, reason, label, detail);

    /// <paramref name="reason"/> is what the client is refused with when no later source admits it either.
    public static SourceVerdict Ignore(ReasonCode reason, string label, string? detail = null) => new(AuthenticationDecision.Ignore, reason, label, detail);
}

/// One way of checking credentials: the password file, JWT, an HTTP hook. Sources may attach per-client rules
/// and an expiry to the <see cref="ConnectContext"/> when they allow.
public interface IAuthenticationSource
{
    /// Lower-case name used in logs and as the metrics' "source" label ("file", "jwt", "http").
    public string Name { get; }

    public ValueTask<SourceVerdict> DecideAsync(ConnectContext context, CancellationToken cancellationToken);
}

/// Authentication:Sources — the sources asked in the configured order (docs/adr/0018). The first Allow or Deny
/// decides; when every source ignores the client it is refused with the first source's reason, so a chain of the
/// file source alone refuses exactly as the file authenticator does.
public sealed class AuthenticationChain(IReadOnlyList<IAuthenticationSource> sources) : IAuthenticator
{
    public IReadOnlyList<IAuthenticationSource> Sources => sources;

    public async ValueTask<ReasonCode> AuthenticateAsync(ConnectContext context, CancellationToken cancellationToken)
    {
        SourceVerdict? first = null;
        IAuthenticationSource? firstSource = null;
        foreach (var source in sources)
        {
            var verdict = await source.DecideAsync(context, cancellationToken);
            switch (verdict.Decision)
            {
                case AuthenticationDecision.Allow:
                    return ReasonCode.Success;
                case AuthenticationDecision.Deny:
                    return Refuse(context, source.Name, verdict);
                default:
                    if (first is null)
                    {
                        first = verdict;
                        firstSource = source;
                    }
                    break;
            }
        }

        // Every source ignored the client (or there are none): refused as today (no source admitted it).
        var ignored = first ?? SourceVerdict.Ignore(ReasonCode.NotAuthorized, "no_source");
        return Refuse(context, firstSource?.Name ?? "none", ignored with { Label = "no_source_allowed", Detail = ignored.Detail });
    }

    /// Counts and explains a refusal by <paramref name="source"/>; the reason code the client is refused with.
    internal static ReasonCode Refuse(ConnectContext context, string source, SourceVerdict verdict)
    {
        SecurityMetrics.AuthenticationRefused(source, verdict.Label);
        // The handshake writes the refusal's log line (throttled per address) with this cause in it.
        context.RefusalReason = $"{source}: {verdict.Detail ?? verdict.Label}";
        return verdict.Reason == ReasonCode.Success ? ReasonCode.NotAuthorized : verdict.Reason;
    }
}

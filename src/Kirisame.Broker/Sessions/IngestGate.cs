namespace Kirisame.Broker.Sessions;

/// The sessions one publisher has to wait for before it is read from again (ingest back-pressure, see
/// <see cref="BackPressure"/>). Routing finds the gate of the publisher whose PUBLISH it is routing through
/// <see cref="Current"/>, which the publisher sets around the routing call: a message routed by anything else
/// (a will, $SYS, retained messages on SUBSCRIBE, a re-dispatch) has no publisher to hold back.
internal sealed class IngestGate(Session? own)
{
    [ThreadStatic]
    private static IngestGate? t_current;

    private List<Session>? _waitFor;

    /// The gate of the publisher routing on this thread, if any.
    public static IngestGate? Current => t_current;

    /// True when routing found a session this publisher must wait for.
    public bool MustWait => _waitFor is { Count: > 0 };

    /// Marks this thread as routing for this publisher until the scope is disposed.
    public Scope Enter()
    {
        t_current = this;
        return default;
    }

    /// Adds a congested session, once. A publisher never waits for its own session: it is the one that reads that
    /// session's acknowledgements, so waiting would only stall until the slow-consumer timeout.
    public void WaitFor(Session session)
    {
        if (session == own)
            return;
        var waitFor = _waitFor ??= new List<Session>(1);
        if (!waitFor.Contains(session))
            waitFor.Add(session);
    }

    /// The sessions to wait for; the caller clears the list when done.
    public List<Session> Sessions => _waitFor ??= [];

    public readonly struct Scope : IDisposable
    {
        public void Dispose() => t_current = null;
    }
}

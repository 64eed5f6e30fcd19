namespace Kirisame.Bridges;

/// What a bridge is doing, for the log, the `Kirisame` meter and tests. Counters are written with Interlocked.
internal sealed class BridgeStatus(string name)
{
    public string Name { get; } = name;

    /// The remote address connected to, or null while disconnected.
    public string? ConnectedTo { get; set; }

    public bool IsConnected => ConnectedTo is not null;

    public long ForwardedOut;
    public long ForwardedIn;
    public long Connects;
    public long ConnectFailures;
}

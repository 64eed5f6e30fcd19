using Kirisame.Transport.Tls;

namespace Kirisame.Transport.Listeners;

/// A listener at run time: its options, its TLS settings, its open-connection count. The TLS settings (and
/// the options that name their files) may be replaced while it runs (PUT /api/v1/listeners/{name}/tls): each
/// handshake reads them once, so new handshakes use the new files and established connections are untouched.
internal sealed class MqttListener(ListenerOptions options, TlsSettings? tls)
{
    /// Key in ConnectionContext.Items under which a connection records the listener that accepted it.
    public static readonly object ItemKey = typeof(MqttListener);

    public int Open;

    private State _current = new(options, tls);

    public ListenerOptions Options => Volatile.Read(ref _current).Options;

    public string Name => Options.Name;

    public TlsSettings? Tls => Volatile.Read(ref _current).Tls;

    public void ReplaceTls(ListenerOptions options, TlsSettings tls) => Volatile.Write(ref _current, new State(options, tls));

    /// Options and TLS settings change together: one reference, read and written whole.
    private sealed record State(ListenerOptions Options, TlsSettings? Tls);
}

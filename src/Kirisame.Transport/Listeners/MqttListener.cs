using Kirisame.Transport.Tls;

namespace Kirisame.Transport.Listeners;

/// A configured listener at run time: its options, its TLS settings, its open-connection count.
internal sealed class MqttListener(ListenerOptions options, TlsSettings? tls)
{
    /// Key in ConnectionContext.Items under which a connection records the listener that accepted it.
    public static readonly object ItemKey = typeof(MqttListener);

    public int Open;

    public ListenerOptions Options { get; } = options;

    public string Name => Options.Name;

    public TlsSettings? Tls { get; } = tls;
}

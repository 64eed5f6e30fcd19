using System.Net;
using Kirisame.Transport.Listeners;

namespace Kirisame.Transport;

/// Every MQTT listener serving now: those configured (Kestrel's and the own TCP transport's, bound at start)
/// and those added through the management API (<see cref="LiveListeners"/>). After start-up their endpoints
/// hold the bound ports (port 0 becomes the one the OS chose), which is what the server logs and the API lists.
public sealed class MqttListeners
{
    private readonly List<Entry> _listeners = [];

    internal void Add((MqttListener Listener, Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions Kestrel) listener) =>
        Add(listener.Listener, () => listener.Kestrel.EndPoint);

    internal void Add(MqttListener listener, Func<EndPoint?> endPoint, bool live = false)
    {
        lock (_listeners)
            _listeners.Add(new Entry(listener, endPoint, live));
    }

    /// Adds <paramref name="listener"/> unless the name is taken (names are compared as configuration keys are).
    internal bool TryAdd(MqttListener listener, Func<EndPoint?> endPoint)
    {
        lock (_listeners)
        {
            if (Find(listener.Name) is not null)
                return false;
            _listeners.Add(new Entry(listener, endPoint, Live: true));
            return true;
        }
    }

    internal void Remove(MqttListener listener)
    {
        lock (_listeners)
            _listeners.RemoveAll(e => e.Listener == listener);
    }

    internal (MqttListener Listener, bool Live)? Find(string name)
    {
        lock (_listeners)
        {
            var entry = _listeners.Find(e => string.Equals(e.Listener.Name, name, StringComparison.OrdinalIgnoreCase));
            return entry is null ? null : (entry.Listener, entry.Live);
        }
    }

    public IReadOnlyList<(string Name, ListenerProtocol Protocol, string? Path, EndPoint EndPoint)> Bound
    {
        get
        {
            lock (_listeners)
            {
                return [.. _listeners.Select(l => (l.Listener.Name, l.Listener.Options.Protocol, l.Listener.Options.IsWebSocket ? l.Listener.Options.Path : null,
                    l.EndPoint() ?? l.Listener.Options.EndPoint))];
            }
        }
    }

    private sealed record Entry(MqttListener Listener, Func<EndPoint?> EndPoint, bool Live);
}

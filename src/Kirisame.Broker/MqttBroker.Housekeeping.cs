using Kirisame.Broker.Sys;
using System.Globalization;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Diagnostics;
using Kirisame.Broker.Sessions;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker;

/// Once a second: connect and keep-alive timeouts, session expiry, delayed wills, and $SYS when due.
/// One timer for the whole broker instead of one per connection keeps idle connections cheap.
public sealed partial class MqttBroker
{
    private ITimer? _housekeeping;
    private long _lastSysTicks;
    private SysTopics? _sys;
    private int _housekeepingRunning;

    /// Starts background work ($SYS publishing, timeouts, session expiry).
    public void Start()
    {
        _housekeeping ??= TimeProvider.CreateTimer(static state => ((MqttBroker)state!).Housekeep(), this, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        if (Options.SysInterval > 0)
        {
            _sys ??= SysTopics.Connect(this);
            PublishSys(0);
        }
    }

    private void PublishSys(double elapsedSeconds)
    {
        _lastSysTicks = TimeProvider.GetTimestamp();
        _sys?.Publish(elapsedSeconds);
    }

    internal void Housekeep()
    {
        if (Interlocked.Exchange(ref _housekeepingRunning, 1) != 0)
            return;
        try
        {
            var now = TimeProvider.GetTimestamp();
            CheckTimeouts(now);
            CheckSessions(now);
            if (Limits is { } limits)
                CheckTenantQueues(limits);
            LogThrottle.Flush(_connectionLogger);
            if (Options.SysInterval > 0)
            {
                // Housekeeping runs once a second, and each run comes a little after (or, measured from a
                // publication made a little after its tick, before) a whole number of seconds: the tick within half
                // a second of the interval is the one that publishes. Compared exactly, the tick due at 10 s often
                // measured 9.99 s and the update waited for the next one, at 11 s (issue 17).
                var elapsed = TimeProvider.GetElapsedTime(_lastSysTicks, now).TotalSeconds;
                if (elapsed >= Options.SysInterval - 0.5)
                    PublishSys(elapsed);
            }
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Housekeeping failed");
        }
        finally
        {
            Volatile.Write(ref _housekeepingRunning, 0);
        }
    }

    private void CheckTimeouts(long now)
    {
        foreach (var connection in _connections.Slots)
        {
            if (connection is null || connection.IsClosing)
                continue;
            if (!connection.IsEstablished)
            {
                if (TimeProvider.GetElapsedTime(connection.ConnectedAtTicks, now) > Options.ConnectTimeout)
                {
                    _logger.LogDebug("Connection {ConnectionId} from {Remote} sent no CONNECT in time; closing", connection.Info.ConnectionId, connection.Info.RemoteEndPoint);
                    connection.RequestClose(null);
                }
            }
            else if (TimeProvider.GetElapsedTime(connection.LastActivityTicks, now) >= TimeSpan.FromSeconds(1)
                && TimeProvider.GetElapsedTime(connection.LastWriteTicks, now) >= TimeSpan.FromSeconds(1))
            {
                connection.TrimIdle();
            }

            if (connection.IsEstablished && connection.KeepAlive > 0
                && TimeProvider.GetElapsedTime(connection.LastActivityTicks, now).TotalSeconds > connection.KeepAlive * 1.5)
            {
                // One and a half keep-alive periods without a packet [MQTT-3.1.2-22] (3.1.1 [MQTT-3.1.2-24]).
                _logger.LogInformation("Client {ClientId} keep-alive timeout; closing", connection.LogName);
                connection.RequestClose(ReasonCode.KeepAliveTimeout);
            }
        }
    }

    private void CheckSessions(long now)
    {
        List<(WillMessage Will, string ClientId)>? wills = null;
        lock (_sessionsLock)
        {
            List<Session>? expired = null;
            foreach (var session in _sessions.Values)
            {
                if (session.Owner is not null)
                    continue;
                var sessionOver = session.ExpiryInterval != uint.MaxValue
                    && TimeProvider.GetElapsedTime(session.DisconnectedAtTicks, now).TotalSeconds >= session.ExpiryInterval;
                if (session.PendingWill is { } will && (sessionOver || now >= session.PendingWillAtTicks))
                {
                    // Whichever comes first: the will delay or the end of the session [MQTT-3.1.3-9].
                    (wills ??= []).Add((will, session.ClientId));
                    lock (session.Sync)
                    {
                        session.PendingWill = null;
                        if (!sessionOver) // an expired session is deleted below, with everything it had
                            session.Journal.SessionChanged();
                    }
                }

                if (sessionOver)
                    (expired ??= []).Add(session);
            }

            if (expired is not null)
            {
                foreach (var session in expired)
                {
                    _logger.LogDebug("Session {ClientId} expired", session.ClientId);
                    DiscardSessionLocked(session);
                }
            }
        }

        if (wills is not null)
        {
            foreach (var (will, clientId) in wills)
                PublishWill(will, clientId);
        }
    }
}

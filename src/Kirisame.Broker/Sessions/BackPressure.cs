using Kirisame.Broker.Delivery;
using Kirisame.Broker.Diagnostics;
using Kirisame.Protocol.Primitives;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Sessions;

/// Ingest back-pressure (docs/adr/0009-ingest-back-pressure.md): the broker reads from publishers no faster than it
/// delivers, so that a QoS 1/2 message it acknowledged is never dropped because the broker itself was busy. The one
/// owner of what "congested", "slow consumer" and "may drop" mean.
///
/// - A connected session is congested when its backlog (messages waiting for its in-flight window plus those in its
///   target's outbound queue) reaches Broker:BackPressureThreshold, or half of Broker:MaxQueuedBytes. Routing notes
///   it on the gate of the publisher being routed for (<see cref="IngestGate"/>); that publisher's read loop, before
///   it reads more, waits until the session is down to half (low water). TCP then slows the publisher.
/// - A session whose own client holds it up for Broker:SlowConsumerTimeout — its socket does not drain, its
///   acknowledgements stopped, or nothing moved at all — is marked slow: nobody waits for it any more, and its queue
///   limit and overflow action apply until it has drained to low water. The judgement is made twice, the second a
///   quarter of the timeout later, and the second must see nothing moved: a broker starved of CPU (which has not
///   read the acknowledgements in its sockets) must not take its consumers for slow. An offline session is never
///   waited for.
/// - So drops happen only to a slow or offline consumer, by the configured policy, and are counted.
///
/// Waits cannot deadlock for good: two clients publishing to each other, both paused, do not read each other's
/// acknowledgements; the timeout marks one of them slow and both go on.
internal sealed class BackPressure(MqttBroker broker, ILogger logger)
{
    private long _waits;
    private long _slowConsumers;

    /// Publisher waits begun since start.
    public long Waits => Interlocked.Read(ref _waits);

    /// Times a session was marked a slow consumer since start.
    public long SlowConsumers => Interlocked.Read(ref _slowConsumers);

    /// Messages waiting for connected sessions, across the broker, that back-pressure aims to stay under: it is
    /// shared among the connected clients, so that what waits — and so the latency a saturated broker adds — does
    /// not grow with the number of sessions. Measured (docs/adr/0009): with 1,000 pairs a fixed threshold of 100 each
    /// held ~75,000 messages, p50 latency 0.57 s; shared, far less at the same throughput.
    internal const int SharedBacklog = 16_384;

    /// The smallest threshold sharing gives a session: below it, publishers would pause for every few messages.
    internal const int MinimumThreshold = 32;

    /// The backlog at which a connected session holds its publishers back: Broker:BackPressureThreshold, or its share
    /// of <see cref="SharedBacklog"/> when many clients are connected; never above Broker:MaxQueuedMessages.
    private int Threshold
    {
        get
        {
            var options = broker.Options;
            var share = (int)Math.Max(MinimumThreshold, SharedBacklog / Math.Max(1, Interlocked.Read(ref broker.Statistics.ClientsConnected)));
            return Math.Max(1, Math.Min(Math.Min(options.BackPressureThreshold, share), options.MaxQueuedMessages));
        }
    }

    private long ThresholdBytes => Math.Max(1, broker.Options.MaxQueuedBytes / 2);

    /// Whether a message for <paramref name="session"/> may be dropped by the queue-limit policy: only when its
    /// consumer is gone or slow. Caller holds session.Sync or not: a flag and a reference, read once.
    public static bool MayDrop(Session session) => session.Target is null || session.Slow;

    /// After routing a message to a connected session: when it is congested, the publisher must wait for it.
    public void Routed(Session session, IDeliveryTarget target)
    {
        if (session.Slow || IngestGate.Current is not { } gate)
            return;
        if (session.Backlog >= Threshold || session.BacklogBytes >= ThresholdBytes)
            gate.WaitFor(session);
    }

    /// Called where a session's backlog shrinks (acknowledgements, the writer): wakes publishers waiting for it,
    /// and ends a slow episode, once it is down to low water. Costs a flag read when nobody watches.
    public void Drained(Session session)
    {
        if (!session.DrainWatched || !BelowLowWater(session))
            return;
        if (session.Slow)
        {
            session.Slow = false;
            logger.LogDebug("Client {ClientId} has caught up: publishers wait for it again when it falls behind", MqttText.Quote(session.ClientId));
        }

        session.SignalDrained();
    }

    private bool BelowLowWater(Session session) =>
        session.Backlog < Math.Max(1, Threshold / 2) && session.BacklogBytes < ThresholdBytes / 2;

    /// Whether a publisher still has to wait for <paramref name="session"/>.
    private bool MustWaitFor(Session session) =>
        !session.Slow && session.Target is { IsClosing: false } && !BelowLowWater(session);

    /// Waits until every session on <paramref name="gate"/> has drained to low water, left, or been marked slow, or
    /// until <paramref name="stop"/> completes (the publisher is closing). Allocates only when it has to wait.
    public async Task WaitAsync(IngestGate gate, Task stop)
    {
        var sessions = gate.Sessions;
        try
        {
            var counted = false;
            foreach (var session in sessions)
            {
                var timeout = broker.Options.SlowConsumerTimeout;
                var since = broker.TimeProvider.GetTimestamp();
                var backlogThen = session.Backlog;
                var suspect = false;
                while (MustWaitFor(session))
                {
                    var drained = session.DrainedTask();
                    if (!MustWaitFor(session))
                        break; // drained between the check and the waiter being published: no wake-up is lost
                    if (!counted)
                    {
                        counted = true;
                        Interlocked.Increment(ref _waits);
                    }

                    var left = (suspect ? SecondLook(timeout) : timeout) - broker.TimeProvider.GetElapsedTime(since);
                    if (left <= TimeSpan.Zero)
                    {
                        var backlogNow = session.Backlog;
                        if (!suspect)
                        {
                            // Its own client holds it up, or nothing moved: look again shortly. A process that was
                            // starved of CPU for the timeout (a busy host, a long pause) has not read the
                            // acknowledgements waiting in its sockets, and its consumers look stuck though the broker
                            // is what was behind; once it runs again, the second look sees them move.
                            suspect = ClientHoldsUp(session) || backlogNow >= backlogThen;
                        }
                        else if (backlogNow >= backlogThen)
                        {
                            MarkSlow(session); // nothing moved during the second look either
                            break;
                        }
                        else
                        {
                            suspect = false;
                        }

                        // The broker is what is behind (its writer has work, the window moves), or the second look is
                        // due: keep waiting.
                        since = broker.TimeProvider.GetTimestamp();
                        backlogThen = backlogNow;
                        continue;
                    }

                    await ((Task)Task.WhenAny(drained, stop)).WaitAsync(left, broker.TimeProvider).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    if (stop.IsCompleted)
                        return;
                }
            }
        }
        finally
        {
            sessions.Clear();
        }
    }

    /// How long the second look waits: long enough for a process that was starved to catch up with its sockets.
    private static TimeSpan SecondLook(TimeSpan timeout) => TimeSpan.FromTicks(Math.Max(timeout.Ticks / 4, TimeSpan.FromMilliseconds(100).Ticks));

    /// The session's own client is what holds its deliveries up now: its socket does not take what was written,
    /// or its in-flight window is full and everything has been written (the acknowledgements are not coming).
    private static bool ClientHoldsUp(Session session)
    {
        if (session.Target is not { } target)
            return true;
        if (target.OutputBlocked)
            return true;
        lock (session.Sync)
            return session.InflightCount >= target.SendWindow && target.Backlog == 0;
    }

    private void MarkSlow(Session session)
    {
        if (session.Slow)
            return;
        session.Slow = true;
        Interlocked.Increment(ref _slowConsumers);
        var target = session.Target;
        if (broker.LogThrottle.Allow("slow consumer", null))
        {
            logger.LogWarning(
                "Client {ClientId} ({Remote}) is not keeping up ({Backlog} messages waiting for it): publishers no longer wait for it; its queue limit ({Limit} messages) and overflow action ({Action}) apply until it catches up",
                MqttText.Quote(session.ClientId), target?.Origin ?? "offline", session.Backlog, broker.QueueLimits(session).Messages, broker.Options.QueueOverflowAction);
        }
    }
}

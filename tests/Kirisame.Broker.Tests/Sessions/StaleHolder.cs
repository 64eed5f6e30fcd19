using Kirisame.Broker.Admin;
using Kirisame.Broker.Delivery;
using Kirisame.Protocol;

namespace Kirisame.Broker.Tests.Sessions;

/// A holder of a session that does not let go when asked: what a connection stuck in a write looks like to a
/// takeover. Its clean-up is left to the test, which runs it after the takeover, as a late connection would.
internal sealed class StaleHolder(bool finishOnClose = false) : IDeliveryTarget
{
    private readonly TaskCompletionSource _closeRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string LogName => "'stale'";

    public string Origin => "test";

    public int SendWindow => 10;

    public bool IsClosing => _closeRequested.Task.IsCompleted;

    /// Never, unless made with finishOnClose: then as soon as it is asked to close (without releasing anything).
    public Task Finished => _finished.Task;

    /// Completes when the broker asks it to close, with the reason it gave.
    public Task<ReasonCode?> CloseRequested => _closeRequested.Task.ContinueWith(_ => Reason, TaskScheduler.Default);

    public ReasonCode? Reason { get; private set; }

    public int Delivered { get; private set; }

    public int Backlog => 0;

    public long BacklogBytes => 0;

    public bool OutputBlocked => false;

    public bool TryEnqueuePublish(BrokerMessage message, QualityOfService qos, bool retain, bool dup, ushort packetId, uint[] subscriptionIds, bool mayDrop)
    {
        Delivered++;
        return true;
    }

    public void EnqueueRelease(ushort packetId, ReasonCode reason)
    {
    }

    public ClientSnapshot Describe(string clientId) => new(clientId, true, Origin, null, ProtocolVersion.V500, null, null, 0);

    /// It is done at last (its clean-up, if any, was run by the test).
    public void Finish() => _finished.TrySetResult();

    public void RequestClose(ReasonCode? reason, string? why = null)
    {
        Reason = reason;
        _closeRequested.TrySetResult();
        if (finishOnClose)
            _finished.TrySetResult();
    }
}

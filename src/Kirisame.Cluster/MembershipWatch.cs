using Microsoft.Extensions.Logging;
using Orleans;

namespace Kirisame.Cluster;

/// Reads the member list once a second. A node that cannot read it for <see cref="ClusterSettings.MembershipTimeout"/>
/// is cut off (a partition, or the membership store or primary seed is down): it cannot promise that a client id is
/// held on one node only, so it refuses new connections (CONNACK 0x88 Server unavailable; 3.1.1: 3) and reports not
/// ready until it can read the list again.
internal sealed class MembershipWatch(IMembershipTable table, ClusterSettings settings, TimeProvider time, ILogger logger)
{
    private long _lastReadTicks = time.GetTimestamp();
    private bool _cutOff;
    private string? _lastError;

    public string? Refusal
    {
        get
        {
            var since = time.GetElapsedTime(Volatile.Read(ref _lastReadTicks));
            return since < settings.MembershipTimeout ? null
                : $"this node has not been able to read the cluster's membership for {since.TotalSeconds:0} s";
        }
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await table.ReadAllAsync(cancellationToken).WaitAsync(settings.MembershipTimeout, cancellationToken);
                Volatile.Write(ref _lastReadTicks, time.GetTimestamp());
                _lastError = null;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                _lastError = ex.Message;
            }

            var refusal = Refusal;
            if (refusal is not null && !_cutOff)
                logger.LogError("Cluster: {Why} ({Error}); refusing new connections until it can", refusal, _lastError ?? "no answer");
            else if (refusal is null && _cutOff)
                logger.LogWarning("Cluster: the membership can be read again; accepting connections");
            _cutOff = refusal is not null;
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

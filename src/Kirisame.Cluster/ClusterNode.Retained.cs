using System.Buffers;
using Kirisame.Broker;
using Kirisame.Broker.Delivery;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Microsoft.Extensions.Logging;

namespace Kirisame.Cluster;

/// Retained messages across the nodes (docs/adr/0020): each change made here sent to every other node, and a node that
/// joins starts from another's.
internal sealed partial class ClusterNode
{
    // ---- outward: retained replication (from ClusterStore) ----

    public void ReplicateRetained(BrokerMessage message)
    {
        foreach (var peer in _peers.Values)
            peer.Enqueue(message);
    }

    public void ReplicateRetainedRemoval(string topic)
    {
        foreach (var peer in _peers.Values)
            peer.EnqueueRetainedRemoval(topic);
    }

    /// Retained messages here, for a node that joins.
    public byte[] RetainedSnapshot()
    {
        var output = new ArrayBufferWriter<byte>();
        foreach (var message in Broker.Retained.Match("#", Broker.TimeProvider))
            PublishPackets.Write(output, message, message.RemainingExpiry(Broker.TimeProvider) is { } left
                ? message.Properties with { MessageExpiryInterval = left } : message.Properties);
        return output.WrittenSpan.ToArray();
    }

    /// A joining node takes the retained messages of the first other node that answers; topics it has already (its own
    /// store's, or set meanwhile) are kept.
    private async Task PullRetainedAsync()
    {
        foreach (var peer in _peers.Values)
        {
            try
            {
                var packets = await InboxAt(peer.Address).Retained().WaitAsync(TimeSpan.FromSeconds(10));
                var count = 0;
                foreach (var publish in PublishPackets.Read(packets))
                {
                    var topic = System.Text.Encoding.UTF8.GetString(publish.Topic.Span);
                    if (Broker.Retained.Match(topic, Broker.TimeProvider).Count > 0)
                        continue;
                    var message = new BrokerMessage(topic, publish.Topic.ToArray(), publish.Payload, publish.QoS, retain: true, publish.Properties.Detach(), "",
                        Broker.TimeProvider.GetTimestamp());
                    Broker.Retained.Set(message);
                    _store.Inner.PutRetained(message);
                    count++;
                }

                Logger.LogInformation("Cluster: {Count} retained message(s) taken from node {Node}", count, peer.Address);
                return;
            }
            catch (Exception ex)
            {
                Logger.LogWarning("Cluster: reading the retained messages of node {Node} failed: {Error}", peer.Address, ex.Message);
            }
        }
    }
}

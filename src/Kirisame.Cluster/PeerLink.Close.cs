using Kirisame.Protocol;

namespace Kirisame.Cluster;

/// The end of a link: the other node left or died. With a shared store (Cluster:SharedStore) a dead node's link is held
/// first — it sends nothing more, but keeps that node's routes and gathers what is routed to them — until a live node
/// has taken the dead one's sessions up and its own routes for them are here (<see cref="DeadNodeSessions"/>): then
/// what the link gathered goes to that node. No message for those sessions falls into the gap between the dead node's
/// routes going and the adopter's arriving.
internal sealed partial class PeerLink
{
    /// Set under _lock once the link's chunks were taken for the last time: nothing is queued after.
    private bool _ended;

    /// A chunk the other node did not accept: its messages, their forward numbers, and the positions of shared-group
    /// copies among them.
    internal readonly record struct Unaccepted(ReadOnlyMemory<byte> Messages, List<long> Sequences, int[] SharedPositions);

    /// The node left or died: stop sending, give up what was not accepted, drop its filters and its session. With
    /// <paramref name="died"/>, the shared-group messages it had not accepted go to other members of their groups.
    public async Task CloseAsync(bool died = false)
    {
        await HoldAsync();
        foreach (var chunk in End(died))
            node.Forwards.Done(chunk.Sequences);
    }

    /// A dead node's link, with a shared store: stops sending; its routes stay, and what is routed to them is gathered,
    /// until <see cref="End"/>.
    public Task HoldAsync() => _closed.CancelAsync();

    /// Drops the link's filters and session, and returns what the other node did not accept (in flight when it stopped,
    /// or queued) for the caller to give up or hand on; with <paramref name="died"/>, its shared-group copies are given
    /// to other members of their groups first.
    public List<Unaccepted> End(bool died)
    {
        Target.Close();
        if (_session is { } session)
            node.Broker.ReleaseSession(session, Target, session.Epoch, will: null, ProtocolVersion.V500);
        _relay?.Close();
        List<Chunk> unaccepted = [];
        lock (_lock)
        {
            _ended = true;
            if (_inFlight is { } sending)
                unaccepted.Add(sending); // the send loop stopped with it (accepted meanwhile: handed on twice, harmless)
            while (_chunks.TryDequeue(out var chunk))
                unaccepted.Add(chunk);
            _open = null;
        }

        if (died)
        {
            foreach (var chunk in unaccepted.Where(c => c.Shared.Count > 0))
                node.RedeliverShared(chunk.Bytes.WrittenMemory, chunk.Shared, _session);
        }

        return [.. unaccepted.Select(c => new Unaccepted(c.Bytes.WrittenMemory, c.Sequences, [.. c.Shared.Select(s => s.Index)]))];
    }
}

namespace Kirisame.Cluster.Grains;

/// One partition of the cluster's client-id registry (hash of the id modulo <see cref="ClusterSessionRegistry.Partitions"/>):
/// who holds each id of the partition, with the epoch of the claim. One grain per partition rather than per id: an
/// activation costs about 0.4 core-ms and a connect storm would pay it per client (docs/adr/0020).
internal interface IClientRegistryPartition : IGrainWithIntegerKey
{
    /// The newest claim wins: returns its epoch, and the holder it displaced. Without <paramref name="force"/>, a claim of
    /// an id this partition has no record of, while a dead node's sessions are still to be taken up (their records may
    /// have been lost with this partition's last activation), records nothing and names that node: the claimer waits for
    /// the adoption, then claims again with <paramref name="force"/>.
    public Task<ClaimResult> Claim(string clientId, string node, string connection, bool force);

    /// A persistent session without a connection moves from node <paramref name="from"/>, which is leaving, to node
    /// <paramref name="to"/>: recorded there, offline, under a new epoch, which is returned — or 0 when the id is held
    /// or kept on another node than <paramref name="from"/> now (its client came back elsewhere: that claim moves it).
    public Task<long> Move(string clientId, string from, string to);

    /// A claim of <paramref name="epoch"/> could not have the session of the holder it displaced (that node died, and
    /// no live node has taken its sessions up yet): the record goes back to <paramref name="previous"/>, offline, so
    /// that the next claim finds the session again — unless a later claim or move came meanwhile.
    public Task Restore(string clientId, long epoch, HolderRecord previous);

    /// Node <paramref name="node"/> died and a live node took up its persistent sessions (docs/adr/0020): what is still
    /// recorded on it goes (its connected clients and sessions nobody took up are gone with it).
    public Task Forget(string node);

    /// Releases only the current holder (the epoch matches). With <paramref name="sessionKept"/> (a persistent session
    /// stays on the holder's node) the record stays, marked offline, so that the next claim finds where the session is
    /// and has it handed over.
    public Task<bool> Release(string clientId, long epoch, bool sessionKept);

    /// The connected holder, if any (an offline record is not a holder).
    public Task<HolderRecord?> Find(string clientId);

    /// After a silo died (with it, maybe, this partition's activation and its state), each node states again what it
    /// holds; an entry with a newer epoch is kept.
    public Task Reassert(List<HolderRecord> holders);
}

/// Offline: nobody is connected with the id; its persistent session is kept on <see cref="Node"/>.
[GenerateSerializer]
internal sealed record HolderRecord([property: Id(0)] string ClientId, [property: Id(1)] long Epoch, [property: Id(2)] string Node, [property: Id(3)] string Connection,
    [property: Id(4)] bool Offline = false);

[GenerateSerializer]
internal sealed record ClaimResult([property: Id(0)] long Epoch, [property: Id(1)] HolderRecord? Previous, [property: Id(2)] string? AwaitingAdoption = null);

using Kirisame.Broker.Storage;

namespace Kirisame.Cluster;

/// Cluster:SharedStore (docs/adr/0020, "Persistent sessions across the loss of their node"): a folder every node
/// reaches (one box, or shared storage such as NFS), with one store folder per node, named for the node's silo
/// endpoint, so that a restarted node finds its own again. A store folder is held by one process at a time (RocksDB's
/// LOCK, released by the kernel when that process ends, however it ends): that lock is what keeps a live node taking
/// up the sessions of a node that only looks dead — frozen, or cut off — until that node is really gone.
internal sealed class SharedStore(string root, Func<string, IBrokerStore?> open)
{
    public string Root { get; } = root;

    /// The store folder of the node at silo endpoint <paramref name="address"/> ("ip:port", or a silo address with its
    /// generation, "ip:port@generation": the generation is left out).
    public string FolderOf(string address) => FolderIn(Root, address);

    /// <see cref="FolderOf"/> in the shared folder <paramref name="root"/>.
    public static string FolderIn(string root, string address) =>
        Path.Combine(root, EndpointOf(address).Replace("[", "", StringComparison.Ordinal).Replace("]", "", StringComparison.Ordinal).Replace(':', '_'));

    /// The endpoint part of a silo address: a node restarted on the same endpoint owns the same folder.
    public static string EndpointOf(string address)
    {
        var at = address.IndexOf('@', StringComparison.Ordinal);
        return at < 0 ? address : address[..at];
    }

    /// Opens a store folder; null while another process holds it.
    public IBrokerStore? Open(string folder) => open(folder);
}

namespace Kirisame.Broker;

/// Implemented by a transport's reader that can complete a read on the thread that learns of the bytes (the epoll
/// thread) when that thread has nothing else to do, instead of handing it to the thread pool: at light load the
/// wake-up of a pool thread is most of a message's latency. The broker allows it once a connection is established,
/// since from then on its packets are handled without blocking work (password hashing happens at CONNECT).
/// docs/adr/0012.
public interface IInlineReads
{
    /// From now on reads may complete inline.
    public void AllowInlineReads();
}

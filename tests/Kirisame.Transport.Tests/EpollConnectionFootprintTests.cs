using Kirisame.Transport.Sockets;

namespace Kirisame.Transport.Tests;

/// What an idle connection of the epoll engine carries in the transport: the connection, its reader and its writer,
/// and no buffer (those are rented while bytes are in flight). Measured as the bytes the constructor allocates on
/// this thread, deterministic; docs/adr/0012 has the RSS per idle connection these are part of.
public sealed class EpollConnectionFootprintTests
{
    /// EpollConnection 72, EpollPipeReader 120 (its completion source carries a bool, not a ReadResult), EpollPipeWriter 112.
    private const int Budget = 304;

    [Fact]
    public void A_new_epoll_connection_allocates_no_more_than_its_budget()
    {
        _ = new EpollConnection(-1, null!, null); // warm-up: statics

        var before = GC.GetAllocatedBytesForCurrentThread();
        var connection = new EpollConnection(-1, null!, null);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        GC.KeepAlive(connection);
        Assert.True(allocated <= Budget, $"a new epoll connection allocated {allocated} bytes; the budget is {Budget}");
    }
}

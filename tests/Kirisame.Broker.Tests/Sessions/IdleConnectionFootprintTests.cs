using System.IO.Pipelines;
using Kirisame.Broker.Sessions;

namespace Kirisame.Broker.Tests.Sessions;

/// What every connection carries while idle, measured as the bytes its constructor allocates on this thread (a count,
/// not a timing: deterministic). Issue 13 asks for at most 1.5 KB of broker RSS per idle connection; the RSS figure
/// itself comes from `kirisame bench --scenario conn` (docs/adr/0012), and these guard its largest parts against
/// growing back: a field added to <see cref="ClientConnection"/> is paid 15,000 times at 15,000 connections.
public sealed class IdleConnectionFootprintTests
{
    /// The connection (320 bytes) and its frame reader (32). Rarely used state lives in objects made on demand
    /// (enhanced authentication, publish-rate buckets, a flush that waits): add there, not here, what most
    /// connections never use.
    private const int ConnectionBudget = 352;

    private sealed class NoTransport : IDuplexPipe
    {
        public PipeReader Input => throw new NotSupportedException();

        public PipeWriter Output => throw new NotSupportedException();
    }

    [Fact]
    public async Task A_new_connection_allocates_no_more_than_its_budget()
    {
        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0 });
        var transport = new NoTransport();
        var info = new ConnectionInfo("tcp-1", null, null);
        _ = new ClientConnection(broker, transport, info); // warm-up: statics, the listener's authorizer

        var before = GC.GetAllocatedBytesForCurrentThread();
        var connection = new ClientConnection(broker, transport, info);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        GC.KeepAlive(connection);
        Assert.True(allocated <= ConnectionBudget, $"a new connection allocated {allocated} bytes; the budget is {ConnectionBudget}");
    }
}

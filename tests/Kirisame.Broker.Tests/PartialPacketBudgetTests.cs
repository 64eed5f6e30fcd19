using Kirisame.Broker.Sessions;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests;

/// The broker-wide budget for packets still arriving (Broker:MaxPartialPacketBytes), on its own: what is granted,
/// who waits and in which order, what a timeout or a closing connection leaves behind (nothing), and that the
/// count goes back to zero however reservations and waits interleave.
public sealed class PartialPacketBudgetTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private static readonly Task s_never = new TaskCompletionSource().Task;

    [Fact]
    public void Reservations_ThatFit_AreGrantedAtOnce_AndGoBackToZero()
    {
        var budget = new PartialPacketBudget(1000);
        Assert.True(budget.TryReserve(600));
        Assert.True(budget.TryReserve(400));
        Assert.False(budget.TryReserve(1));
        Assert.Equal(1000, budget.Reserved);

        budget.Release(600);
        budget.Release(400);
        Assert.Equal(0, budget.Reserved);
        Assert.Equal(0, budget.Waiting);
    }

    [Fact]
    public async Task AWaiter_IsGranted_AsSoonAsEnoughIsReturned()
    {
        var budget = new PartialPacketBudget(1000);
        Assert.True(budget.TryReserve(800));
        var waiting = budget.ReserveAsync(500, s_timeout, s_never, TimeProvider.System).AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, budget.Waiting);

        budget.Release(800);
        Assert.True(await waiting.WaitAsync(s_timeout));
        Assert.Equal(500, budget.Reserved);
        Assert.Equal(0, budget.Waiting);
        budget.Release(500);
        Assert.Equal(0, budget.Reserved);
    }

    /// First come, first served: a small request that would fit does not overtake a large one that came first
    /// (else a stream of small ones could keep a large packet out for ever), nor does TryReserve.
    [Fact]
    public async Task Waiters_AreServedInOrderOfArrival()
    {
        var budget = new PartialPacketBudget(1000);
        Assert.True(budget.TryReserve(900));
        var large = budget.ReserveAsync(700, s_timeout, s_never, TimeProvider.System).AsTask();
        var small = budget.ReserveAsync(100, s_timeout, s_never, TimeProvider.System).AsTask();
        Assert.False(budget.TryReserve(50));

        budget.Release(300); // 400 free: enough for the small one, not for the large one ahead of it
        Assert.False(large.IsCompleted);
        Assert.False(small.IsCompleted);
        Assert.Equal(2, budget.Waiting);

        budget.Release(600); // 1000 free: both, in order
        Assert.True(await large.WaitAsync(s_timeout));
        Assert.True(await small.WaitAsync(s_timeout));
        Assert.Equal(800, budget.Reserved);
    }

    [Fact]
    public async Task AWaiterThatTimesOut_GetsNothing_IsCounted_AndThoseBehindItMoveUp()
    {
        var time = new FakeTimeProvider();
        var budget = new PartialPacketBudget(1000);
        Assert.True(budget.TryReserve(500));
        var large = budget.ReserveAsync(800, TimeSpan.FromSeconds(10), s_never, time).AsTask();
        var small = budget.ReserveAsync(300, TimeSpan.FromSeconds(60), s_never, time).AsTask();

        time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(await large.WaitAsync(s_timeout));
        Assert.True(await small.WaitAsync(s_timeout)); // it fitted all along, and now nobody is ahead of it
        Assert.Equal(800, budget.Reserved);
        Assert.Equal(1, budget.TimedOut);
        Assert.Equal(0, budget.Waiting);
    }

    [Fact]
    public async Task AnAbandonedWaiter_GetsNothing_AndIsNotATimeout()
    {
        var budget = new PartialPacketBudget(1000);
        Assert.True(budget.TryReserve(1000));
        var closing = new TaskCompletionSource();
        var waiting = budget.ReserveAsync(100, s_timeout, closing.Task, TimeProvider.System).AsTask();

        closing.SetResult();
        Assert.False(await waiting.WaitAsync(s_timeout));
        Assert.Equal(0, budget.Waiting);
        Assert.Equal(0, budget.TimedOut);
        budget.Release(1000);
        Assert.Equal(0, budget.Reserved); // what it waited for was never reserved on its behalf
    }

    [Fact]
    public async Task ARequestLargerThanTheWholeBudget_IsRefusedAtOnce_WithoutHoldingUpOthers()
    {
        var budget = new PartialPacketBudget(1000);
        Assert.False(await budget.ReserveAsync(1001, s_timeout, s_never, TimeProvider.System));
        Assert.Equal(0, budget.Waiting);
        Assert.True(budget.TryReserve(1000));
    }

    [Fact]
    public void NoLimit_GrantsEverything_AndStillCounts()
    {
        var budget = new PartialPacketBudget(0);
        Assert.True(budget.TryReserve(int.MaxValue));
        Assert.True(budget.TryReserve(int.MaxValue));
        Assert.Equal(2L * int.MaxValue, budget.Reserved);
        budget.Release(int.MaxValue);
        budget.Release(int.MaxValue);
        Assert.Equal(0, budget.Reserved);
    }

    /// Many reservations at once, some of which time out or are abandoned just as room comes free: the budget is
    /// never exceeded, and once everyone has returned what they got it is back at zero — a grant racing a timeout
    /// must not leave bytes reserved for a waiter that has gone.
    [Fact]
    public async Task ConcurrentReservations_NeverExceedTheBudget_AndAllComeBack()
    {
        const long capacity = 10_000;
        var budget = new PartialPacketBudget(capacity);
        var exceeded = false;
        var granted = 0;
        using var stop = new CancellationTokenSource();
        var watcher = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
                exceeded |= budget.Reserved > capacity;
        });

        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            for (var i = 0; i < 500; i++)
            {
                var bytes = random.Next(1, 5_000);
                var abandon = random.Next(4) == 0 ? Task.Delay(random.Next(0, 2)) : s_never;
                if (!await budget.ReserveAsync(bytes, TimeSpan.FromMilliseconds(random.Next(0, 3)), abandon, TimeProvider.System))
                    continue;
                Interlocked.Increment(ref granted);
                if (random.Next(2) == 0)
                    await Task.Yield();
                budget.Release(bytes);
            }
        })));
        await stop.CancelAsync();
        await watcher;

        Assert.False(exceeded, "more than the budget was reserved at some point");
        Assert.True(granted > 0);
        Assert.Equal(0, budget.Reserved);
        Assert.Equal(0, budget.Waiting);
    }
}

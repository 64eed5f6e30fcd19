using Kirisame.Storage.RocksDb;

namespace Kirisame.Storage.Tests;

/// The writer's per-queue index against a sorted dictionary, through the operations a queue sees: appends, removals
/// mostly from the front, some from the middle, state rewrites, an entry numbered below the others.
public sealed class QueueEntriesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void BehavesAsASortedMap(int seed)
    {
        var random = new Random(seed);
        var entries = new QueueEntries();
        var model = new SortedDictionary<long, long>();
        long next = 1_000;
        for (var step = 0; step < 200_000; step++)
        {
            var roll = random.Next(100);
            if (roll < 45 || model.Count == 0)
            {
                var sequence = random.Next(1000) == 0 ? random.Next(1, 1_000) : ++next; // rarely below the others
                if (model.ContainsKey(sequence))
                    continue;
                var body = random.NextInt64(1, long.MaxValue >> 2);
                entries.Add(sequence, body);
                model.Add(sequence, body);
            }
            else if (roll < 85)
            {
                var oldest = model.Keys.First();
                Assert.Equal(model[oldest], entries.Remove(oldest));
                model.Remove(oldest);
            }
            else if (roll < 95)
            {
                var any = model.Keys.ElementAt(random.Next(Math.Min(model.Count, 64)));
                Assert.Equal(model[any], entries.Remove(any));
                model.Remove(any);
            }
            else
            {
                var any = model.Keys.ElementAt(random.Next(Math.Min(model.Count, 64)));
                Assert.True(entries.Set(any, model[any] | 1L << 62));
                model[any] |= 1L << 62;
            }

            Assert.Equal(model.Count, entries.Count);
            if (model.Count > 0)
                Assert.Equal(model.Keys.First(), entries.First);
            var probe = random.Next(2) == 0 && model.Count > 0 ? model.Keys.Last() : random.NextInt64(0, next + 2);
            Assert.Equal(model.GetValueOrDefault(probe), entries.Get(probe));
        }

        Assert.Equal(model.Values, entries.Bodies());
        Assert.Equal(0, entries.Remove(-1));
        Assert.False(entries.Set(-1, 5));
    }
}

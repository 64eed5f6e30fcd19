namespace Kirisame.Cluster;

/// The topic names of the messages another node sends, as the strings routing matches: a batch carries each topic as
/// bytes, and a string made per message was an allocation per message on the receiving node (and its topic bytes, a
/// slice of the batch's array, kept the whole batch alive as long as any of its messages was pooled). A small direct-
/// mapped cache keeps the recent ones; a collision replaces the slot. Safe for concurrent readers: a slot holds an
/// immutable entry, replaced whole.
internal sealed class TopicNames
{
    private const int Slots = 512;
    private readonly Entry?[] _slots = new Entry?[Slots];

    private sealed class Entry(byte[] utf8, string name)
    {
        public readonly byte[] Utf8 = utf8;
        public readonly string Name = name;
    }

    public string Get(ReadOnlySpan<byte> utf8, out ReadOnlyMemory<byte> stable)
    {
        var hash = new HashCode();
        hash.AddBytes(utf8);
        var slot = (int)((uint)hash.ToHashCode() % Slots);
        if (Volatile.Read(ref _slots[slot]) is not { } entry || !utf8.SequenceEqual(entry.Utf8))
        {
            entry = new Entry(utf8.ToArray(), System.Text.Encoding.UTF8.GetString(utf8));
            Volatile.Write(ref _slots[slot], entry);
        }

        stable = entry.Utf8;
        return entry.Name;
    }
}

namespace Kirisame.Broker.Sessions;

/// The broker's network connections, for housekeeping and shutdown: a slot array with a free list, each connection
/// knowing its slot. It replaces a ConcurrentDictionary, whose node and share of the buckets cost every idle
/// connection about 60 bytes (and whose Keys, taken by housekeeping once a second, copied all of them into a new
/// array each time). Adding and removing take a lock, once per connection; walking takes none.
internal sealed class ConnectionTable
{
    private readonly Lock _lock = new();
    private ClientConnection?[] _slots = new ClientConnection?[64];
    private int[] _free = new int[64];
    private int _freeCount;
    private int _used; // slots [0, _used) have been handed out at least once
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public void Add(ClientConnection connection)
    {
        lock (_lock)
        {
            int slot;
            if (_freeCount > 0)
            {
                slot = _free[--_freeCount];
            }
            else
            {
                slot = _used;
                if (slot == _slots.Length)
                {
                    var larger = new ClientConnection?[_slots.Length * 2];
                    _slots.AsSpan().CopyTo(larger);
                    Volatile.Write(ref _slots, larger); // before _used grows: a walk reads _used first
                }

                Volatile.Write(ref _used, slot + 1);
            }

            Volatile.Write(ref _slots[slot], connection);
            connection.TableSlot = slot;
            _count++;
        }
    }

    /// Removes the connection if it is here (more than once is harmless).
    public void Remove(ClientConnection connection)
    {
        lock (_lock)
        {
            var slot = connection.TableSlot;
            if (slot < 0 || !ReferenceEquals(_slots[slot], connection))
                return;
            Volatile.Write(ref _slots[slot], null);
            connection.TableSlot = -1;
            if (_freeCount == _free.Length)
                Array.Resize(ref _free, _free.Length * 2);
            _free[_freeCount++] = slot;
            _count--;
        }
    }

    /// The slots as they are, for a walk without a copy: null where a slot is free. A connection added or removed
    /// during the walk may or may not be seen, as with a snapshot taken a moment earlier or later.
    public ReadOnlySpan<ClientConnection?> Slots
    {
        get
        {
            var used = Volatile.Read(ref _used);
            return Volatile.Read(ref _slots).AsSpan(0, used);
        }
    }
}

namespace Keel.Blkback.Core;

/// <summary>
/// A map from a 64-bit key (a request id, a grant reference) to an index in one of the engine's pools, with
/// a capacity fixed at construction: chained hashing over an array of chain heads and one of entries (key,
/// value and next side by side, one place per step of a lookup). Lookups stay short however many entries
/// are live, and nothing allocates after construction. Keys come from the front-end, so a
/// hostile one can pile entries into one chain; a chain is never longer than the capacity, which the
/// engine keeps small (the ring size, the persistent grant cache).
/// </summary>
internal sealed class IndexMap
{
    private readonly int[] _buckets;   // first slot of each chain, -1 for none
    private readonly Slot[] _slots;
    private readonly IndexFifo _free;  // slots not holding an entry

    public IndexMap(int capacity)
    {
        int buckets = 1;
        while (buckets < capacity * 2)
        {
            buckets <<= 1;
        }

        _buckets = new int[buckets];
        for (int i = 0; i < buckets; i++)
        {
            _buckets[i] = -1;
        }

        _slots = new Slot[capacity];
        _free = IndexFifo.Counting(capacity);
    }

    /// <summary>Entries in the map.</summary>
    public int Count => _slots.Length - _free.Count;

    public bool TryGet(ulong key, out int value)
    {
        for (int slot = _buckets[Bucket(key)]; slot >= 0; slot = _slots[slot].Next)
        {
            if (_slots[slot].Key == key)
            {
                value = _slots[slot].Value;
                return true;
            }
        }

        value = -1;
        return false;
    }

    /// <summary>Adds <paramref name="key"/>; false when it is already present or the map is full.</summary>
    public bool TryAdd(ulong key, int value)
    {
        if (TryGet(key, out _) || _free.IsEmpty)
        {
            return false;
        }

        int slot = _free.Pop();
        int bucket = Bucket(key);
        _slots[slot] = new Slot { Key = key, Value = value, Next = _buckets[bucket] };
        _buckets[bucket] = slot;
        return true;
    }

    /// <summary>Removes <paramref name="key"/>; false when it was absent.</summary>
    public bool Remove(ulong key)
    {
        int bucket = Bucket(key);
        int previous = -1;
        for (int slot = _buckets[bucket]; slot >= 0; previous = slot, slot = _slots[slot].Next)
        {
            if (_slots[slot].Key != key)
            {
                continue;
            }

            if (previous < 0)
            {
                _buckets[bucket] = _slots[slot].Next;
            }
            else
            {
                _slots[previous].Next = _slots[slot].Next;
            }

            _free.TryPush(slot);
            return true;
        }

        return false;
    }

    /// <summary>Fibonacci hashing: the key's bits spread over the bucket index, so ids that count up and
    /// grant references that differ only in high bits alike land apart.</summary>
    private int Bucket(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> 32) & (_buckets.Length - 1);

    private struct Slot
    {
        public ulong Key;
        public int Value;
        public int Next;                 // the next slot in the chain, -1 at its end
    }
}

namespace Keel.Blkback.Core;

/// <summary>
/// A first-in first-out queue of small integers (indices into the engine's fixed pools) with a capacity
/// fixed at construction: the free lists and the queue of requests waiting for the device. Nothing
/// allocates after construction.
/// </summary>
internal sealed class IndexFifo
{
    private readonly int[] _items;
    private int _head;    // index of the oldest item in _items
    private int _count;   // items queued

    public IndexFifo(int capacity)
    {
        _items = new int[capacity];
    }

    public int Count => _count;

    public bool IsEmpty => _count == 0;

    /// <summary>A queue holding 0 .. count-1, in order: a fresh pool's free list.</summary>
    public static IndexFifo Counting(int count)
    {
        var fifo = new IndexFifo(count);
        for (int i = 0; i < count; i++)
        {
            fifo.TryPush(i);
        }

        return fifo;
    }

    /// <summary>Appends <paramref name="item"/>; false when the queue is full.</summary>
    public bool TryPush(int item)
    {
        if (_count == _items.Length)
        {
            return false;
        }

        // A wrap by comparison, not %: the capacity is no constant, so % would be a division on every push.
        int at = _head + _count;
        _items[at < _items.Length ? at : at - _items.Length] = item;
        _count++;
        return true;
    }

    /// <summary>The oldest item, left in place; -1 when empty.</summary>
    public int Peek() => _count == 0 ? -1 : _items[_head];

    /// <summary>Removes and returns the oldest item; -1 when empty.</summary>
    public int Pop()
    {
        if (_count == 0)
        {
            return -1;
        }

        int item = _items[_head];
        _head = _head + 1 < _items.Length ? _head + 1 : 0;
        _count--;
        return item;
    }
}

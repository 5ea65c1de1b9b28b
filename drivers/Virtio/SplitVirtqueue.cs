using System;
using System.Threading;

namespace Keel.Drivers.Virtio;

/// <summary>
/// The driver's side of one split virtqueue (virtio 1.2 2.7), in three DMA pages: the descriptor table,
/// the available ring and the used ring (<see cref="VirtqueueLayout"/>).
///
/// Use: <see cref="TryAdd"/> chains (each with a token of the caller's), then <see cref="Publish"/> once
/// for the batch and notify the device if it says so; later <see cref="TryReap"/> hands back the tokens of
/// finished chains, and <see cref="ArmUsedNotification"/> asks for an interrupt at the next one. Not
/// thread-safe: one caller drives the queue.
///
/// The device is not trusted. Every value it writes (used ring id, used idx) is checked before it indexes
/// anything; a used entry whose id is out of range or not in flight is ignored and counted. Which
/// descriptors form a chain and which are free is kept in private arrays, never read back from the
/// descriptor table the device can reach, so a device that scribbles over the table cannot corrupt the
/// free list. What it cannot defend against: a device that reports a chain it has not finished.
///
/// With VIRTIO_RING_F_INDIRECT_DESC a chain of several buffers takes one descriptor pointing at a table of
/// its own (2.7.5.3); each descriptor has its table, preallocated, so there is one per possible request in
/// flight. With VIRTIO_F_EVENT_IDX notifications in both directions are suppressed by the used_event and
/// avail_event fields (2.7.10); without it, by the device's VIRTQ_USED_F_NO_NOTIFY flag (2.7.7), and the
/// driver always wants interrupts.
/// </summary>
public sealed class SplitVirtqueue
{
    private readonly DmaPage _descriptors;
    private readonly DmaPage _available;
    private readonly DmaPage _used;
    private readonly DmaPage[] _tables;       // indirect tables, _tablesPerPage per page; null without indirect
    private readonly int _tablesPerPage;
    private readonly int _tableBytes;
    // Short chains (a one-segment block request is three buffers) use small tables packed many to a page:
    // the chains in flight then share a page or two instead of a page each, which matters most after an
    // address-space switch has emptied the TLB. Null without indirect.
    private readonly DmaPage[] _shortTables;
    private readonly ushort _mask;            // Size - 1: Size is a power of two (2.7: "Queue Size ... a power of 2")
    private readonly ushort[] _link;          // per descriptor: the next free one, or the next of its chain
    private readonly ushort[] _chainLength;   // per head: ring descriptors its chain holds
    private readonly ulong[] _tokens;         // per head: the caller's token
    private readonly bool[] _inFlight;        // per head: added and not yet reaped
    private ushort _freeHead;                 // first free descriptor, meaningful while _freeCount > 0
    private int _freeCount;
    private ushort _availableNext;            // virtq_avail.idx the next added head gets (2.7.13 step 2)
    private ushort _availablePublished;       // virtq_avail.idx as last stored for the device
    private ushort _usedNext;                 // the next used ring entry to read (the driver's last_used_idx)

    /// <summary>Queue Size: descriptors in the table and entries in each ring.</summary>
    public ushort Size { get; }

    /// <summary>The longest chain <see cref="TryAdd"/> accepts.</summary>
    public int MaxChainLength { get; }

    /// <summary>Whether chains of more than one buffer go through indirect tables.</summary>
    public bool UsesIndirectDescriptors => _tables != null;

    /// <summary>Whether VIRTIO_F_EVENT_IDX was negotiated for this queue.</summary>
    public bool UsesEventIndex { get; }

    /// <summary>Descriptors not holding a chain.</summary>
    public int FreeDescriptors => _freeCount;

    /// <summary>Chains added and not yet reaped.</summary>
    public int InFlight { get; private set; }

    /// <summary>Used ring entries ignored because their id was out of range or not in flight.</summary>
    public int IgnoredUsedEntries { get; private set; }

    /// <summary>Bus address of the descriptor table, for queue_desc.</summary>
    public ulong DescriptorTableAddress => _descriptors.BusAddress;

    /// <summary>Bus address of the available ring, for queue_driver.</summary>
    public ulong AvailableRingAddress => _available.BusAddress;

    /// <summary>Bus address of the used ring, for queue_device.</summary>
    public ulong UsedRingAddress => _used.BusAddress;

    private const int ShortChain = 4;
    private const int ShortTableBytes = ShortChain * VirtqueueLayout.DescriptorSize;
    private const int ShortTablesPerPage = DmaMemory.PageSize / ShortTableBytes;

    private SplitVirtqueue(ushort size, int maxChainLength, bool eventIndex, DmaPage descriptors, DmaPage available, DmaPage used, DmaPage[] tables, DmaPage[] shortTables)
    {
        Size = size;
        MaxChainLength = maxChainLength;
        UsesEventIndex = eventIndex;
        _mask = (ushort)(size - 1);
        _descriptors = descriptors;
        _available = available;
        _used = used;
        _tables = tables;
        _shortTables = shortTables;
        _tableBytes = maxChainLength * VirtqueueLayout.DescriptorSize;
        _tablesPerPage = DmaMemory.PageSize / _tableBytes;
        _link = new ushort[size];
        _chainLength = new ushort[size];
        _tokens = new ulong[size];
        _inFlight = new bool[size];
        for (int i = 0; i < size; i++)
        {
            _link[i] = (ushort)(i + 1);
        }

        _freeCount = size;
    }

    /// <summary>Allocates a queue of <paramref name="size"/> descriptors (a power of two, at most
    /// <see cref="VirtqueueLayout.MaxSize"/>) taking chains of up to <paramref name="maxChainLength"/>
    /// buffers (at most <paramref name="size"/>, 2.7.5.3.1 and 2.7.13.1). Everything is allocated here; the
    /// pages come zeroed, which is the initial state the device expects (idx 0, flags 0). False when the
    /// arguments are out of range or DMA memory runs out.</summary>
    public static bool TryCreate(DmaMemory memory, ushort size, int maxChainLength, bool indirect, bool eventIndex, out SplitVirtqueue queue)
    {
        queue = null;
        if (size == 0 || size > VirtqueueLayout.MaxSize || (size & (size - 1)) != 0 || maxChainLength < 1 || maxChainLength > size)
        {
            return false;
        }

        if (!DmaPage.TryAllocate(memory, out DmaPage descriptors) || !DmaPage.TryAllocate(memory, out DmaPage available) || !DmaPage.TryAllocate(memory, out DmaPage used))
        {
            return false;
        }

        DmaPage[] tables = null, shortTables = null;
        if (indirect && (!TryAllocateTables(memory, size, maxChainLength, out tables) || !TryAllocateTables(memory, size, ShortChain, out shortTables)))
        {
            return false;
        }

        queue = new SplitVirtqueue(size, maxChainLength, eventIndex, descriptors, available, used, tables, shortTables);
        return true;
    }

    /// <summary>Whether a chain of <paramref name="chainLength"/> buffers would find descriptors free now.</summary>
    public bool HasRoomFor(int chainLength) => chainLength >= 1 && chainLength <= MaxChainLength && _freeCount >= DescriptorsFor(chainLength);

    /// <summary>Puts a chain on the available ring, unpublished until <see cref="Publish"/> (2.7.13 steps 1-3).
    /// Device-readable buffers must come before device-writable ones (2.7.4.2). False, and nothing changed,
    /// when the chain is empty, longer than <see cref="MaxChainLength"/>, out of order or has an empty
    /// buffer, or when too few descriptors are free.</summary>
    public bool TryAdd(ReadOnlySpan<VirtqueueBuffer> chain, ulong token)
    {
        if (!IsWellFormed(chain) || !HasRoomFor(chain.Length))
        {
            return false;
        }

        ushort head = _freeHead;
        int taken = _tables != null && chain.Length > 1 ? TakeIndirect(head, chain) : TakeDirect(head, chain);
        _chainLength[head] = (ushort)taken;
        _tokens[head] = token;
        _inFlight[head] = true;
        InFlight++;
        _available.Write16(VirtqueueLayout.RingEntries + VirtqueueLayout.AvailableEntrySize * (_availableNext & _mask), head);
        _availableNext++;
        return true;
    }

    /// <summary>Makes every chain added since the last call visible to the device (2.7.13 steps 4-5) and
    /// says whether the device wants an available buffer notification for them (steps 6-7, 2.7.10).</summary>
    public bool Publish()
    {
        ushort previous = _availablePublished;
        ushort next = _availableNext;
        if (previous == next)
        {
            return false;
        }

        // Step 4: the descriptors and ring entries written above must reach the device before the index
        // that hands them over. Every DMA store is volatile, and a volatile store is a release: none of the
        // earlier stores moves after it (and x86-64 keeps stores in order).
        _available.Write16(VirtqueueLayout.RingIndex, next);
        _availablePublished = next;

        // Step 6: the device must see the new idx before the driver reads whether it wants a notification,
        // or both sides could decide the other will act. That is store-then-load ordering, which only a full
        // fence gives.
        Interlocked.MemoryBarrier();
        if (UsesEventIndex)
        {
            ushort availableEvent = _used.Read16(VirtqueueLayout.AvailableEvent(Size));
            return NeedsEvent(availableEvent, next, previous);
        }

        return (_used.Read16(VirtqueueLayout.RingFlags) & VirtqueueLayout.UsedNoNotify) == 0;
    }

    /// <summary>Takes the next finished chain off the used ring (2.7.8), frees its descriptors and returns
    /// its token and the bytes the device says it wrote; false when there is none. Entries naming a head
    /// out of range or not in flight are skipped and counted in <see cref="IgnoredUsedEntries"/>.</summary>
    public bool TryReap(out ulong token, out uint written)
    {
        token = 0;
        written = 0;

        // Acquire: the entries below are read after the idx that says they are there.
        ushort deviceNext = _used.Read16(VirtqueueLayout.RingIndex);
        while (_usedNext != deviceNext)
        {
            int entry = VirtqueueLayout.RingEntries + VirtqueueLayout.UsedEntrySize * (_usedNext & _mask);
            uint id = _used.Read32(entry);
            uint length = _used.Read32(entry + 4);
            _usedNext++;
            if (id >= Size || !_inFlight[id])
            {
                IgnoredUsedEntries++;
                continue;
            }

            token = _tokens[id];
            written = length;
            Free((ushort)id);
            return true;
        }

        return false;
    }

    /// <summary>Asks for a used buffer notification when the device next uses a chain and says whether
    /// chains finished meanwhile, in which case the caller reaps again instead of waiting. With
    /// VIRTIO_F_EVENT_IDX that is used_event = last_used_idx (2.7.10); without it the driver never sets
    /// VIRTQ_AVAIL_F_NO_INTERRUPT, so only the check remains.</summary>
    public bool ArmUsedNotification()
    {
        if (UsesEventIndex)
        {
            _available.Write16(VirtqueueLayout.UsedEvent(Size), _usedNext);
        }

        // The used_event store must be visible before used idx is read again: otherwise the device could
        // use a chain, see the old used_event and not interrupt, while this read misses the chain.
        Interlocked.MemoryBarrier();
        return _used.Read16(VirtqueueLayout.RingIndex) != _usedNext;
    }

    // vring_need_event (2.7.10): notify when the event index lies in (old, new], modulo 2^16.
    private static bool NeedsEvent(ushort eventIndex, ushort next, ushort previous) =>
        (ushort)(next - eventIndex - 1) < (ushort)(next - previous);

    private int DescriptorsFor(int chainLength) => _tables != null && chainLength > 1 ? 1 : chainLength;

    private static bool IsWellFormed(ReadOnlySpan<VirtqueueBuffer> chain)
    {
        bool writable = false;
        for (int i = 0; i < chain.Length; i++)
        {
            if (chain[i].Length == 0 || (writable && !chain[i].DeviceWritable))
            {
                return false;
            }

            writable = chain[i].DeviceWritable;
        }

        return chain.Length > 0;
    }

    private int TakeDirect(ushort head, ReadOnlySpan<VirtqueueBuffer> chain)
    {
        ushort descriptor = head;
        for (int i = 0; i < chain.Length; i++)
        {
            bool last = i == chain.Length - 1;
            ushort following = _link[descriptor];
            WriteDescriptor(_descriptors, VirtqueueLayout.DescriptorSize * descriptor, chain[i], !last, following);
            if (!last)
            {
                descriptor = following;
            }
        }

        _freeHead = _link[descriptor];
        _freeCount -= chain.Length;
        return chain.Length;
    }

    // 2.7.5.3: the table's descriptors are numbered from 0 within it and chained by next; the ring
    // descriptor pointing at it has only VIRTQ_DESC_F_INDIRECT (not NEXT, not WRITE: 2.7.5.3.1).
    private int TakeIndirect(ushort head, ReadOnlySpan<VirtqueueBuffer> chain)
    {
        bool isShort = chain.Length <= ShortChain;
        DmaPage page = isShort ? _shortTables[head / ShortTablesPerPage] : _tables[head / _tablesPerPage];
        int table = isShort ? head % ShortTablesPerPage * ShortTableBytes : head % _tablesPerPage * _tableBytes;
        for (int i = 0; i < chain.Length; i++)
        {
            bool last = i == chain.Length - 1;
            WriteDescriptor(page, table + VirtqueueLayout.DescriptorSize * i, chain[i], !last, last ? (ushort)0 : (ushort)(i + 1));
        }

        uint tableLength = (uint)(VirtqueueLayout.DescriptorSize * chain.Length);
        WriteDescriptor(_descriptors, VirtqueueLayout.DescriptorSize * head, page.BusAddress + (ulong)table, tableLength, VirtqueueLayout.FlagIndirect, 0);
        _freeHead = _link[head];
        _freeCount--;
        return 1;
    }

    // 2.7.5: next is meaningful only with VIRTQ_DESC_F_NEXT; a chain's last descriptor has the flag clear.
    private static void WriteDescriptor(DmaPage page, int at, in VirtqueueBuffer buffer, bool continues, ushort next)
    {
        ushort flags = buffer.DeviceWritable ? VirtqueueLayout.FlagWrite : (ushort)0;
        if (continues)
        {
            flags |= VirtqueueLayout.FlagNext;
        }

        WriteDescriptor(page, at, buffer.BusAddress, buffer.Length, flags, continues ? next : (ushort)0);
    }

    private static void WriteDescriptor(DmaPage page, int at, ulong address, uint length, ushort flags, ushort next)
    {
        // 2.7.5 struct virtq_desc, little-endian: addr (0), then len (8), flags (12) and next (14) in the second
        // quadword. Written as two stores: the device reads no descriptor before the ring index hands it over.
        page.Write64Pair(at, address, length | (ulong)flags << 32 | (ulong)next << 48);
    }

    private void Free(ushort head)
    {
        ushort last = head;
        for (int i = 1; i < _chainLength[head]; i++)
        {
            last = _link[last];
        }

        _link[last] = _freeHead;
        _freeHead = head;
        _freeCount += _chainLength[head];
        _inFlight[head] = false;
        InFlight--;
    }

    private static bool TryAllocateTables(DmaMemory memory, ushort size, int maxChainLength, out DmaPage[] tables)
    {
        int perPage = DmaMemory.PageSize / (maxChainLength * VirtqueueLayout.DescriptorSize);
        tables = new DmaPage[(size + perPage - 1) / perPage];
        for (int i = 0; i < tables.Length; i++)
        {
            if (!DmaPage.TryAllocate(memory, out tables[i]))
            {
                return false;
            }
        }

        return true;
    }
}

namespace Keel.Blkback.Core;

/// <summary>
/// Data pages kept mapped across requests when both sides agreed on feature-persistent (xen-blkback's
/// persistent_gnts tree): keyed by grant reference alone, as in blkback.c, because the front-end promises to
/// keep a persistently granted page granted and to reuse its reference for the same page. The cache is
/// bounded; when it is full, the least recently used entry no request is using is unmapped to make room,
/// and when every entry is busy the caller maps the page for one request only (blkback.c does the same once
/// persistent_gnt_c reaches max_pgrants). Mappings are always writable, as blkback.c maps persistent grants
/// without GNTMAP_readonly: the same page may serve a read after a write.
/// </summary>
internal sealed class PersistentGrantCache
{
    private readonly GrantMapper _grants;
    private readonly IndexMap _byRef;        // grant reference -> entry
    private readonly IndexFifo _free;        // entries holding no mapping
    // One record per entry rather than an array per field: a lookup then touches one place, not six pages.
    private readonly Entry[] _entries;
    private ulong _clock;

    private struct Entry
    {
        public ulong BusAddress;
        public ulong LastUsed;               // _clock when a request last let go of it (or took it)
        public uint GrantRef;
        public uint Handle;
        public int Users;                    // requests in flight using the entry
        public bool Live;
    }

    public PersistentGrantCache(GrantMapper grants, int capacity)
    {
        _grants = grants;
        _byRef = new IndexMap(capacity);
        _free = IndexFifo.Counting(capacity);
        _entries = new Entry[capacity];
    }

    /// <summary>Mappings held.</summary>
    public int Count => _byRef.Count;

    /// <summary>Entries dropped to make room since construction.</summary>
    public ulong Evictions { get; private set; }

    /// <summary>Lends the mapping of <paramref name="grantRef"/>, if cached, to one more request.</summary>
    public bool TryAcquire(uint grantRef, out int entry, out ulong busAddress)
    {
        busAddress = 0;
        if (!_byRef.TryGet(grantRef, out entry))
        {
            return false;
        }

        ref Entry e = ref _entries[entry];
        e.Users++;
        e.LastUsed = ++_clock;
        busAddress = e.BusAddress;
        return true;
    }

    /// <summary>Makes sure one entry is free, evicting the least recently used idle one if need be. False
    /// when every entry is in use.</summary>
    public bool TryMakeRoom()
    {
        if (!_free.IsEmpty)
        {
            return true;
        }

        int victim = -1;
        for (int i = 0; i < _entries.Length; i++)
        {
            if (_entries[i].Live && _entries[i].Users == 0 && (victim < 0 || _entries[i].LastUsed < _entries[victim].LastUsed))
            {
                victim = i;
            }
        }

        if (victim < 0)
        {
            return false;
        }

        Drop(victim);
        Evictions++;
        return true;
    }

    /// <summary>Keeps a fresh mapping, lent to the request that made it. Call only after
    /// <see cref="TryMakeRoom"/> returned true and with a reference not cached; -1 otherwise.</summary>
    public int Insert(uint grantRef, ulong busAddress, uint handle)
    {
        if (_free.IsEmpty || !_byRef.TryAdd(grantRef, _free.Peek()))
        {
            return -1;
        }

        int entry = _free.Pop();
        _entries[entry] = new Entry { GrantRef = grantRef, BusAddress = busAddress, Handle = handle, Users = 1, LastUsed = ++_clock, Live = true };
        return entry;
    }

    /// <summary>A request is done with the entry; the mapping stays.</summary>
    public void Release(int entry)
    {
        if ((uint)entry < (uint)_entries.Length && _entries[entry].Users > 0)
        {
            _entries[entry].Users--;
            _entries[entry].LastUsed = ++_clock;
        }
    }

    /// <summary>Unmaps every entry: at disconnect, once no request is using any.</summary>
    public void UnmapAll()
    {
        for (int i = 0; i < _entries.Length; i++)
        {
            if (_entries[i].Live)
            {
                Drop(i);
            }
        }
    }

    private void Drop(int entry)
    {
        ref Entry e = ref _entries[entry];
        _grants.UnmapForDevice(e.Handle, e.BusAddress);
        _byRef.Remove(e.GrantRef);
        e.Live = false;
        e.Users = 0;
        _free.TryPush(entry);
    }
}

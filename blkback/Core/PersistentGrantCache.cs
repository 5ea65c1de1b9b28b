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
    private readonly uint[] _grantRef;
    private readonly ulong[] _busAddress;
    private readonly uint[] _handle;
    private readonly int[] _users;           // requests in flight using the entry
    private readonly ulong[] _lastUsed;      // _clock when a request last let go of it (or took it)
    private readonly bool[] _live;
    private ulong _clock;

    public PersistentGrantCache(GrantMapper grants, int capacity)
    {
        _grants = grants;
        _byRef = new IndexMap(capacity);
        _free = IndexFifo.Counting(capacity);
        _grantRef = new uint[capacity];
        _busAddress = new ulong[capacity];
        _handle = new uint[capacity];
        _users = new int[capacity];
        _lastUsed = new ulong[capacity];
        _live = new bool[capacity];
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

        _users[entry]++;
        _lastUsed[entry] = ++_clock;
        busAddress = _busAddress[entry];
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
        for (int i = 0; i < _live.Length; i++)
        {
            if (_live[i] && _users[i] == 0 && (victim < 0 || _lastUsed[i] < _lastUsed[victim]))
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
        _grantRef[entry] = grantRef;
        _busAddress[entry] = busAddress;
        _handle[entry] = handle;
        _users[entry] = 1;
        _lastUsed[entry] = ++_clock;
        _live[entry] = true;
        return entry;
    }

    /// <summary>A request is done with the entry; the mapping stays.</summary>
    public void Release(int entry)
    {
        if ((uint)entry < (uint)_users.Length && _users[entry] > 0)
        {
            _users[entry]--;
            _lastUsed[entry] = ++_clock;
        }
    }

    /// <summary>Unmaps every entry: at disconnect, once no request is using any.</summary>
    public void UnmapAll()
    {
        for (int i = 0; i < _live.Length; i++)
        {
            if (_live[i])
            {
                Drop(i);
            }
        }
    }

    private void Drop(int entry)
    {
        _grants.UnmapForDevice(_handle[entry], _busAddress[entry]);
        _byRef.Remove(_grantRef[entry]);
        _live[entry] = false;
        _users[entry] = 0;
        _free.TryPush(entry);
    }
}

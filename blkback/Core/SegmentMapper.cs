using Keel.Ringlib.Protocols;

namespace Keel.Blkback.Core;

/// <summary>
/// Maps a request's data pages for the disk and its indirect pages for the CPU, through the persistent
/// grant cache when one was negotiated. A map can fail at any segment (the front-end chose the references);
/// what was mapped before it is then unmapped again, so a refused request leaves nothing behind
/// (xen-blkback's xen_blkbk_map unwinds the same way before answering BLKIF_RSP_ERROR).
/// </summary>
internal sealed unsafe class SegmentMapper
{
    private readonly GrantMapper _grants;
    private readonly ushort _frontend;
    private readonly PersistentGrantCache _cache;   // null without feature-persistent
    private readonly VbdStatistics _stats;

    public SegmentMapper(GrantMapper grants, ushort frontend, PersistentGrantCache cache, VbdStatistics stats)
    {
        _grants = grants;
        _frontend = frontend;
        _cache = cache;
        _stats = stats;
    }

    /// <summary>Maps segments 0 .. SegmentCount-1 of <paramref name="request"/>; on failure nothing stays mapped.</summary>
    public bool TryMap(PendingRequest request)
    {
        for (int i = 0; i < request.SegmentCount; i++)
        {
            if (!TryMapOne(request.Wire[i].GrantRef, request.DeviceWrites, out request.Mapped[i]))
            {
                UnmapFirst(request, i);
                return false;
            }
        }

        return true;
    }

    /// <summary>Gives back every mapping of <paramref name="request"/>: unmapped, or returned to the cache.</summary>
    public void Unmap(PendingRequest request) => UnmapFirst(request, request.SegmentCount);

    /// <summary>Unmaps every persistent mapping; only once no request holds any.</summary>
    public void UnmapPersistent() => _cache?.UnmapAll();

    /// <summary>Persistent mappings held.</summary>
    public int PersistentCount => _cache == null ? 0 : _cache.Count;

    /// <summary>Copies <paramref name="count"/> segment descriptors out of the indirect pages named in
    /// <paramref name="indirect"/> (a private copy of the slot) into <paramref name="into"/>, each page mapped
    /// for the CPU, read once and unmapped (blkback.c: xen_blkbk_parse_indirect).</summary>
    public bool TryReadIndirect(in BlkifIndirectRequest indirect, int count, BlkifSegment[] into)
    {
        int pages = BlkifRequestParser.IndirectPagesFor(count);
        if (count > into.Length || pages > Blkif.MaxIndirectPagesPerRequest)
        {
            return false;
        }

        for (int page = 0; page < pages; page++)
        {
            if (!_grants.TryMapForCpu(_frontend, indirect.GetIndirectGrant(page), out ulong va, out uint handle))
            {
                return false;
            }

            int first = page * Blkif.SegmentsPerIndirectPage;
            int inPage = count - first < Blkif.SegmentsPerIndirectPage ? count - first : Blkif.SegmentsPerIndirectPage;
            // Sound: the mapper mapped one 4 KiB page at va, which holds SegmentsPerIndirectPage 8-byte
            // descriptors, and inPage <= SegmentsPerIndirectPage. Each descriptor is read once into the
            // private array; the front-end may rewrite the page afterwards, nothing reads it again.
            BlkifSegment* descriptors = (BlkifSegment*)va;
            for (int i = 0; i < inPage; i++)
            {
                into[first + i] = descriptors[i];
            }

            _grants.UnmapForCpu(va, handle);
        }

        return true;
    }

    private bool TryMapOne(uint grantRef, bool deviceWrites, out MappedSegment mapped)
    {
        mapped = default;
        mapped.CacheEntry = -1;
        if (_cache != null && _cache.TryAcquire(grantRef, out mapped.CacheEntry, out mapped.BusAddress))
        {
            _stats.PersistentHits++;
            return true;
        }

        bool keep = _cache != null && _cache.TryMakeRoom();
        if (_cache != null)
        {
            _stats.PersistentMisses++;
            _stats.PersistentEvictions = _cache.Evictions;
        }

        // A kept mapping is writable whatever this request does with it (see PersistentGrantCache).
        if (!_grants.TryMapForDevice(_frontend, grantRef, keep || deviceWrites, out mapped.BusAddress, out mapped.Handle))
        {
            return false;
        }

        if (keep)
        {
            mapped.CacheEntry = _cache.Insert(grantRef, mapped.BusAddress, mapped.Handle);
        }

        return true;
    }

    private void UnmapFirst(PendingRequest request, int count)
    {
        for (int i = 0; i < count; i++)
        {
            ref MappedSegment mapped = ref request.Mapped[i];
            if (mapped.CacheEntry >= 0)
            {
                _cache.Release(mapped.CacheEntry);
            }
            else
            {
                _grants.UnmapForDevice(mapped.Handle, mapped.BusAddress);
            }
        }
    }
}

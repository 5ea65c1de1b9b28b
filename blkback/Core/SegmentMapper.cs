using System;
using System.Runtime.InteropServices;
using Keel.Ringlib.Protocols;

namespace Keel.Blkback.Core;

/// <summary>
/// Maps a request's data pages for the disk and copies out its indirect segment descriptors, through the persistent
/// grant cache when one was negotiated. A map can fail at any segment (the front-end chose the references);
/// what was mapped before it is then unmapped again, so a refused request leaves nothing behind
/// (xen-blkback's xen_blkbk_map unwinds the same way before answering BLKIF_RSP_ERROR).
/// </summary>
internal sealed class SegmentMapper
{
    private readonly GrantMapper _grants;
    private readonly ushort _frontend;
    private readonly PersistentGrantCache _cache;   // null without feature-persistent
    private readonly VbdStatistics _stats;
    private readonly DeviceMapping[] _batch;      // pages of the requests mapped or unmapped in one call

    public SegmentMapper(GrantMapper grants, ushort frontend, PersistentGrantCache cache, VbdStatistics stats, int maxSegments)
    {
        _grants = grants;
        _frontend = frontend;
        _cache = cache;
        _stats = stats;
        // Room for the largest request twice over: a ring pass of small requests goes in one call.
        _batch = new DeviceMapping[2 * maxSegments];
    }

    /// <summary>
    /// Maps segments 0 .. SegmentCount-1 of each request <paramref name="indices"/> names; <paramref name="mapped"/>[i]
    /// says whether request i's all were, and a request that failed holds none. Without persistent grants the
    /// pages of all of them go in as few batches as possible (one hypercall for every request a ring pass took,
    /// not one a page); with them each page is looked up in the cache and only a miss is mapped.
    /// </summary>
    public void Map(ReadOnlySpan<int> indices, PendingRequest[] pending, Span<bool> mapped)
    {
        if (_cache != null)
        {
            for (int i = 0; i < indices.Length; i++)
            {
                mapped[i] = TryMapCached(pending[indices[i]]);
            }

            return;
        }

        int first = 0;
        while (first < indices.Length)
        {
            // As many whole requests as the batch holds (at least one: a request never has more pages than it).
            int end = first, pages = 0;
            while (end < indices.Length && (end == first || pages + pending[indices[end]].SegmentCount <= _batch.Length))
            {
                pages += pending[indices[end]].SegmentCount;
                end++;
            }

            MapBatch(indices.Slice(first, end - first), pending, mapped.Slice(first, end - first));
            first = end;
        }
    }

    /// <summary>Gives back every mapping of each request <paramref name="indices"/> names: unmapped (in as few
    /// batches as possible without persistent grants), or returned to the cache.</summary>
    public void Unmap(ReadOnlySpan<int> indices, PendingRequest[] pending)
    {
        int count = 0;
        for (int i = 0; i < indices.Length; i++)
        {
            PendingRequest request = pending[indices[i]];
            if (_cache != null)
            {
                UnmapFirst(request, request.SegmentCount);
                continue;
            }

            if (count + request.SegmentCount > _batch.Length)
            {
                _grants.UnmapForDevice(_batch.AsSpan(0, count));
                count = 0;
            }

            for (int s = 0; s < request.SegmentCount; s++)
            {
                _batch[count++] = Owned(request, s);
            }
        }

        if (count > 0)
        {
            _grants.UnmapForDevice(_batch.AsSpan(0, count));
        }
    }

    /// <summary>One map call for every page of the requests; a request with a page refused has those of its
    /// pages that were mapped unmapped again (xen-blkback's xen_blkbk_map unwinds a refused request so).</summary>
    private void MapBatch(ReadOnlySpan<int> indices, PendingRequest[] pending, Span<bool> mapped)
    {
        int count = 0;
        for (int i = 0; i < indices.Length; i++)
        {
            PendingRequest request = pending[indices[i]];
            for (int s = 0; s < request.SegmentCount; s++)
            {
                _batch[count++] = new DeviceMapping(request.Wire[s].GrantRef, request.DeviceWrites);
            }
        }

        _grants.MapForDevice(_frontend, _batch.AsSpan(0, count));
        int at = 0;
        for (int i = 0; i < indices.Length; i++)
        {
            PendingRequest request = pending[indices[i]];
            Span<DeviceMapping> own = _batch.AsSpan(at, request.SegmentCount);
            at += request.SegmentCount;
            bool all = true;
            for (int s = 0; s < own.Length; s++)
            {
                all &= own[s].Mapped;
                request.Mapped[s].BusAddress = own[s].BusAddress;
                request.Mapped[s].Handle = own[s].Handle;
                request.Mapped[s].CacheEntry = -1;
            }

            if (!all)
            {
                _grants.UnmapForDevice(own);
            }

            mapped[i] = all;
        }
    }

    /// <summary>Segment <paramref name="s"/>'s mapping, owned by the request, as an entry to unmap.</summary>
    private static DeviceMapping Owned(PendingRequest request, int s) =>
        new DeviceMapping(request.Wire[s].GrantRef, request.DeviceWrites)
        {
            Mapped = true,
            BusAddress = request.Mapped[s].BusAddress,
            Handle = request.Mapped[s].Handle,
        };

    /// <summary>Through the cache, page by page; on failure nothing stays mapped.</summary>
    private bool TryMapCached(PendingRequest request)
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

    /// <summary>Unmaps every persistent mapping; only once no request holds any.</summary>
    public void UnmapPersistent() => _cache?.UnmapAll();

    /// <summary>Persistent mappings held.</summary>
    public int PersistentCount => _cache == null ? 0 : _cache.Count;

    /// <summary>Copies <paramref name="count"/> segment descriptors out of the indirect pages named in
    /// <paramref name="indirect"/> (a private copy of the slot) into <paramref name="into"/>, each page's share
    /// copied once (blkback.c: xen_blkbk_parse_indirect reads them once too); the front-end may rewrite its
    /// pages afterwards, nothing reads them again.</summary>
    public bool TryReadIndirect(in BlkifIndirectRequest indirect, int count, BlkifSegment[] into)
    {
        int pages = BlkifRequestParser.IndirectPagesFor(count);
        if (count > into.Length || pages > Blkif.MaxIndirectPagesPerRequest)
        {
            return false;
        }

        for (int page = 0; page < pages; page++)
        {
            int first = page * Blkif.SegmentsPerIndirectPage;
            int inPage = count - first < Blkif.SegmentsPerIndirectPage ? count - first : Blkif.SegmentsPerIndirectPage;
            Span<byte> descriptors = MemoryMarshal.AsBytes(into.AsSpan(first, inPage));
            if (!_grants.TryCopyFromGrant(_frontend, indirect.GetIndirectGrant(page), descriptors))
            {
                return false;
            }
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

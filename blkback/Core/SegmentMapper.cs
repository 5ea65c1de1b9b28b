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
    private readonly DeviceMapping[] _batch;      // one request's pages, mapped or unmapped in one call

    public SegmentMapper(GrantMapper grants, ushort frontend, PersistentGrantCache cache, VbdStatistics stats, int maxSegments)
    {
        _grants = grants;
        _frontend = frontend;
        _cache = cache;
        _stats = stats;
        _batch = new DeviceMapping[maxSegments];
    }

    /// <summary>Maps segments 0 .. SegmentCount-1 of <paramref name="request"/>; on failure nothing stays mapped.
    /// Without persistent grants the request's pages are mapped in one batch (one hypercall, not one a page);
    /// with them each page is looked up in the cache and only a miss is mapped.</summary>
    public bool TryMap(PendingRequest request)
    {
        if (_cache == null)
        {
            return TryMapBatch(request);
        }

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

    /// <summary>Gives back every mapping of <paramref name="request"/>: unmapped (in one batch without persistent
    /// grants), or returned to the cache.</summary>
    public void Unmap(PendingRequest request)
    {
        if (_cache != null)
        {
            UnmapFirst(request, request.SegmentCount);
            return;
        }

        Span<DeviceMapping> batch = _batch.AsSpan(0, request.SegmentCount);
        for (int i = 0; i < batch.Length; i++)
        {
            batch[i] = new DeviceMapping(request.Wire[i].GrantRef, request.DeviceWrites)
            {
                Mapped = true,
                BusAddress = request.Mapped[i].BusAddress,
                Handle = request.Mapped[i].Handle,
            };
        }

        _grants.UnmapForDevice(batch);
    }

    /// <summary>Every page of the request in one map call; if any was refused, those that were mapped are
    /// unmapped again in one call (xen-blkback's xen_blkbk_map unwinds a refused request the same way).</summary>
    private bool TryMapBatch(PendingRequest request)
    {
        Span<DeviceMapping> batch = _batch.AsSpan(0, request.SegmentCount);
        for (int i = 0; i < batch.Length; i++)
        {
            batch[i] = new DeviceMapping(request.Wire[i].GrantRef, request.DeviceWrites);
        }

        _grants.MapForDevice(_frontend, batch);
        bool all = true;
        for (int i = 0; i < batch.Length; i++)
        {
            all &= batch[i].Mapped;
            request.Mapped[i].BusAddress = batch[i].BusAddress;
            request.Mapped[i].Handle = batch[i].Handle;
            request.Mapped[i].CacheEntry = -1;
        }

        if (!all)
        {
            _grants.UnmapForDevice(batch);
        }

        return all;
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

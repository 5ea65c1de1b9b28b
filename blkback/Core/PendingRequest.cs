using Keel.Drivers.Virtio;
using Keel.Ringlib.Protocols;

namespace Keel.Blkback.Core;

/// <summary>
/// One ring request the engine has accepted and not yet answered (xen-blkback's struct pending_req): its
/// private copy of the segments, their mappings, and how far its device requests have got. The engine
/// holds one per ring slot, allocated at construction; a request is only ever answered from here, never
/// from the ring.
/// </summary>
internal sealed class PendingRequest
{
    // Storage for a request of up to BLKIF_MAX_SEGMENTS_PER_REQUEST segments, the common case, and for one of
    // up to the indirect limit. The engine makes every request's small arrays before any large one, so the
    // small ones lie together on a few pages: after each address-space switch (which empties the TLB) a pass
    // over many small requests then touches a few pages rather than one or two per request.
    private readonly BlkifSegment[] _fewWire = new BlkifSegment[Blkif.MaxSegmentsPerRequest];
    private readonly MappedSegment[] _fewMapped = new MappedSegment[Blkif.MaxSegmentsPerRequest];
    private BlkifSegment[] _manyWire;
    private MappedSegment[] _manyMapped;

    public PendingRequest()
    {
        Wire = _fewWire;
        Mapped = _fewMapped;
    }

    /// <summary>Makes the storage for requests of up to <paramref name="maxSegments"/> segments (once, at construction).</summary>
    public void ReserveSegments(int maxSegments)
    {
        if (maxSegments > _fewWire.Length)
        {
            _manyWire = new BlkifSegment[maxSegments];
            _manyMapped = new MappedSegment[maxSegments];
        }
    }

    /// <summary>Chooses the storage for a request of <paramref name="segments"/> segments, which the caller
    /// has checked against the limit given to <see cref="ReserveSegments"/>.</summary>
    public void UseSegments(int segments)
    {
        bool few = segments <= _fewWire.Length;
        Wire = few ? _fewWire : _manyWire;
        Mapped = few ? _fewMapped : _manyMapped;
    }

    /// <summary>The segments as the front-end described them, copied out of the slot or the indirect pages once.</summary>
    public BlkifSegment[] Wire { get; private set; }

    /// <summary>Where each segment is mapped, for segments 0 .. SegmentCount-1.</summary>
    public MappedSegment[] Mapped { get; private set; }

    /// <summary>Taken from the free list and not yet answered (or dropped).</summary>
    public bool InUse;

    /// <summary>The front-end's id, echoed in the response.</summary>
    public ulong Id;

    /// <summary>The operation echoed in the response: the real one for an indirect request (xen-blkback's
    /// pending_req->operation), which is what blkfront checks the response against.</summary>
    public byte ResponseOperation;

    /// <summary>Done and set aside to be answered: finishing it again must not answer it twice.</summary>
    public bool SetAside;

    /// <summary>It came as BLKIF_OP_INDIRECT.</summary>
    public bool Indirect;

    /// <summary>What the disk is asked to do in the current phase.</summary>
    public BlockOperation DeviceOperation;

    /// <summary>A flush that carried data (blkfront sends FUA writes so): the data is written first and the
    /// flush issued when the write completes, so the response means "written and durable".</summary>
    public bool FlushAfterWrite;

    /// <summary>The disk sector of the first segment: the extent's start already added.</summary>
    public ulong Sector;

    /// <summary>Segments copied and, once mapping succeeded, mapped.</summary>
    public int SegmentCount;

    /// <summary>Segments the current phase transfers: SegmentCount, or 0 for a flush phase.</summary>
    public int SegmentsToPlace;

    /// <summary>Every segment of the current phase is in a device request (or the request was dropped).</summary>
    public bool FullyPlaced;

    /// <summary>Device requests holding part of this request that have not completed.</summary>
    public int DeviceRequestsPending;

    /// <summary>Ok, or the first failure the disk reported for any part.</summary>
    public BlockStatus Status;

    /// <summary>Bytes the request transfers.</summary>
    public ulong Bytes;

    /// <summary>Fills the request in from a validated one: the caller has already copied its segments into <see cref="Wire"/>.</summary>
    public void Accept(in BlkifValidRequest valid, ulong extentStart)
    {
        InUse = true;
        Id = valid.Id;
        ResponseOperation = (byte)valid.Operation;
        Indirect = valid.IsIndirect;
        SetAside = false;
        SegmentCount = valid.SegmentCount;
        // The parser checked SectorNumber + SectorCount <= the extent's size, and the engine checked
        // Start + size <= the disk's capacity: the sum cannot wrap and stays inside the extent.
        Sector = extentStart + valid.SectorNumber;
        Bytes = valid.SectorCount * Blkif.SectorBytes;
        FlushAfterWrite = valid.Operation == BlkifOperation.FlushDiskCache && SegmentCount > 0;
        DeviceOperation = valid.Operation switch
        {
            BlkifOperation.Read => BlockOperation.Read,
            BlkifOperation.FlushDiskCache => FlushAfterWrite ? BlockOperation.Write : BlockOperation.Flush,
            _ => BlockOperation.Write,
        };
        SegmentsToPlace = DeviceOperation == BlockOperation.Flush ? 0 : SegmentCount;
        FullyPlaced = false;
        DeviceRequestsPending = 0;
        Status = BlockStatus.Ok;
    }

    /// <summary>The disk writes into the pages (a read), so they must be mapped writable.</summary>
    public bool DeviceWrites => DeviceOperation == BlockOperation.Read;

    /// <summary>After the data of a flush-with-data was written: the flush itself, with no segments.</summary>
    public void StartFlushPhase()
    {
        FlushAfterWrite = false;
        DeviceOperation = BlockOperation.Flush;
        SegmentsToPlace = 0;
        FullyPlaced = false;
    }

    /// <summary>Records how a device request holding part of this one ended.</summary>
    public void PartCompleted(BlockStatus status)
    {
        DeviceRequestsPending--;
        if (Status == BlockStatus.Ok)
        {
            Status = status;
        }
    }

    /// <summary>Every part has been placed and has completed.</summary>
    public bool IsDone => FullyPlaced && DeviceRequestsPending == 0;

    /// <summary>The response status for the disk's verdict (io/blkif.h: BLKIF_RSP_*).</summary>
    public BlkifStatus ResponseStatus => Status switch
    {
        BlockStatus.Ok => BlkifStatus.Okay,
        BlockStatus.Unsupported => BlkifStatus.NotSupported,
        _ => BlkifStatus.Error,
    };
}

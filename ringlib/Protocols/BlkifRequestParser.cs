using System;

namespace Keel.Ringlib.Protocols;

/// <summary>What a back-end knows about the virtual device a request is aimed at, and what it advertised.</summary>
public struct BlkifDeviceLimits
{
    /// <summary>Size of the virtual device in 512-byte sectors.</summary>
    public ulong CapacitySectors;

    /// <summary>The device may not be written (VDISK_READONLY).</summary>
    public bool ReadOnly;

    /// <summary>feature-flush-cache was advertised.</summary>
    public bool SupportsFlush;

    /// <summary>feature-barrier was advertised.</summary>
    public bool SupportsBarrier;

    /// <summary>feature-discard was advertised.</summary>
    public bool SupportsDiscard;

    /// <summary>feature-max-indirect-segments; 0 when indirect requests were not advertised.</summary>
    public ushort MaxIndirectSegments;
}

/// <summary>Why a request was refused. Each value names the first rule of io/blkif.h the request broke.</summary>
public enum BlkifRequestError : byte
{
    None = 0,

    /// <summary>The operation byte is not an operation of io/blkif.h (or is the reserved value 4).</summary>
    UnknownOperation,

    /// <summary>A known operation the back-end did not advertise (barrier, flush, discard, indirect).</summary>
    OperationNotSupported,

    /// <summary>A write, barrier, flush or discard aimed at a read-only device.</summary>
    WriteToReadOnlyDevice,

    /// <summary>A read or write with no segment.</summary>
    NoSegments,

    /// <summary>More segments than the request form allows (11 direct, the advertised maximum indirect).</summary>
    TooManySegments,

    /// <summary>A segment whose last sector lies beyond the page (last_sect > 7).</summary>
    SegmentBeyondPage,

    /// <summary>A segment whose first sector comes after its last (first_sect > last_sect).</summary>
    SegmentReversed,

    /// <summary>The sector range runs past the end of the device, or past 2^64.</summary>
    BeyondEndOfDevice,

    /// <summary>An indirect request whose real operation is neither read nor write.</summary>
    BadIndirectOperation,

    /// <summary>A discard of zero sectors.</summary>
    EmptyDiscard,

    /// <summary>The number of indirect segment descriptors handed over differs from the request's count.</summary>
    SegmentCountMismatch,
}

/// <summary>A request that passed <see cref="BlkifRequestParser.Parse"/>: acting on it cannot fail because of
/// anything the front-end wrote. It holds its own copy of the slot, never a pointer into the ring.</summary>
public struct BlkifValidRequest
{
    /// <summary>The operation to perform; for an indirect request, its real operation (Read or Write).</summary>
    public BlkifOperation Operation;

    /// <summary>The request came in indirect form: its segments are in granted pages, still to be checked
    /// with <see cref="BlkifRequestParser.ValidateIndirectSegments"/>.</summary>
    public bool IsIndirect;

    /// <summary>A discard that must leave nothing recoverable.</summary>
    public bool SecureDiscard;

    /// <summary>To echo in the response.</summary>
    public ulong Id;

    /// <summary>The virtual device.</summary>
    public ushort Handle;

    /// <summary>First sector.</summary>
    public ulong SectorNumber;

    /// <summary>Sectors transferred or discarded; for an indirect request, 0 until its segments are checked.</summary>
    public ulong SectorCount;

    /// <summary>Segments in use.</summary>
    public int SegmentCount;

    /// <summary>The copied slot: segments 0..SegmentCount-1 of a direct request, the indirect page grants of
    /// an indirect one.</summary>
    public BlkifRequest Slot;
}

/// <summary>Turns a request copied out of the ring into a <see cref="BlkifValidRequest"/> or a precise error:
/// parse, then act. Nothing here reads shared memory; the caller hands over its private copy.</summary>
public static class BlkifRequestParser
{
    /// <summary>Checks every field of <paramref name="request"/> against io/blkif.h and the device.</summary>
    public static BlkifRequestError Parse(in BlkifRequest request, in BlkifDeviceLimits device, out BlkifValidRequest valid)
    {
        // Field by field rather than "= default" then the copy: the slot is copied once, not cleared first.
        valid.Operation = default;
        valid.IsIndirect = false;
        valid.SecureDiscard = false;
        valid.Id = request.Id;
        valid.Handle = 0;
        valid.SectorNumber = 0;
        valid.SectorCount = 0;
        valid.SegmentCount = 0;
        valid.Slot = request;
        switch ((BlkifOperation)request.Operation)
        {
            case BlkifOperation.Read:
            case BlkifOperation.Write:
                return ParseDirect(request, device, false, ref valid);
            case BlkifOperation.WriteBarrier:
                return device.SupportsBarrier ? ParseDirect(request, device, true, ref valid) : BlkifRequestError.OperationNotSupported;
            case BlkifOperation.FlushDiskCache:
                return device.SupportsFlush ? ParseDirect(request, device, true, ref valid) : BlkifRequestError.OperationNotSupported;
            case BlkifOperation.Discard:
                return device.SupportsDiscard ? ParseDiscard(request.AsDiscard(), device, ref valid) : BlkifRequestError.OperationNotSupported;
            case BlkifOperation.Indirect:
                return device.MaxIndirectSegments != 0 ? ParseIndirect(request.AsIndirect(), device, ref valid) : BlkifRequestError.OperationNotSupported;
            default:
                return BlkifRequestError.UnknownOperation;
        }
    }

    /// <summary>Checks the segment descriptors of an indirect request, once the caller has copied them out of
    /// the indirect pages, and fills in the sector count.</summary>
    public static BlkifRequestError ValidateIndirectSegments(ref BlkifValidRequest request, ReadOnlySpan<BlkifSegment> segments, in BlkifDeviceLimits device)
    {
        if (!request.IsIndirect || segments.Length != request.SegmentCount)
        {
            return BlkifRequestError.SegmentCountMismatch;
        }

        ulong sectors = 0;
        for (int i = 0; i < segments.Length; i++)
        {
            BlkifRequestError error = CheckSegment(segments[i]);
            if (error != BlkifRequestError.None)
            {
                return error;
            }

            sectors += (ulong)(segments[i].LastSector - segments[i].FirstSector + 1);
        }

        if (!FitsOnDevice(request.SectorNumber, sectors, device.CapacitySectors))
        {
            return BlkifRequestError.BeyondEndOfDevice;
        }

        request.SectorCount = sectors;
        return BlkifRequestError.None;
    }

    /// <summary>The status a back-end answers a refused request with: NotSupported for an operation it did
    /// not advertise, Error for anything else.</summary>
    public static BlkifStatus ResponseStatus(BlkifRequestError error) => error switch
    {
        BlkifRequestError.None => BlkifStatus.Okay,
        BlkifRequestError.OperationNotSupported => BlkifStatus.NotSupported,
        _ => BlkifStatus.Error,
    };

    /// <summary>Read, write, and the barrier and flush forms (which may carry data to write first).</summary>
    private static BlkifRequestError ParseDirect(in BlkifRequest request, in BlkifDeviceLimits device, bool mayBeEmpty, ref BlkifValidRequest valid)
    {
        var operation = (BlkifOperation)request.Operation;
        if (operation != BlkifOperation.Read && device.ReadOnly)
        {
            return BlkifRequestError.WriteToReadOnlyDevice;
        }

        int count = request.SegmentCount;
        if (count == 0 && !mayBeEmpty)
        {
            return BlkifRequestError.NoSegments;
        }

        if (count > Blkif.MaxSegmentsPerRequest)
        {
            return BlkifRequestError.TooManySegments;
        }

        ulong sectors = 0;
        for (int i = 0; i < count; i++)
        {
            BlkifSegment segment = request.GetSegment(i);
            BlkifRequestError error = CheckSegment(segment);
            if (error != BlkifRequestError.None)
            {
                return error;
            }

            sectors += (ulong)(segment.LastSector - segment.FirstSector + 1);
        }

        if (!FitsOnDevice(request.SectorNumber, sectors, device.CapacitySectors))
        {
            return BlkifRequestError.BeyondEndOfDevice;
        }

        valid.Operation = operation;
        valid.Handle = request.Handle;
        valid.SectorNumber = request.SectorNumber;
        valid.SectorCount = sectors;
        valid.SegmentCount = count;
        return BlkifRequestError.None;
    }

    private static BlkifRequestError ParseDiscard(in BlkifDiscardRequest discard, in BlkifDeviceLimits device, ref BlkifValidRequest valid)
    {
        if (device.ReadOnly)
        {
            return BlkifRequestError.WriteToReadOnlyDevice;
        }

        if (discard.SectorCount == 0)
        {
            return BlkifRequestError.EmptyDiscard;
        }

        if (!FitsOnDevice(discard.SectorNumber, discard.SectorCount, device.CapacitySectors))
        {
            return BlkifRequestError.BeyondEndOfDevice;
        }

        valid.Operation = BlkifOperation.Discard;
        valid.Handle = discard.Handle;
        valid.SectorNumber = discard.SectorNumber;
        valid.SectorCount = discard.SectorCount;
        valid.SecureDiscard = (discard.Flag & Blkif.DiscardSecure) != 0;
        return BlkifRequestError.None;
    }

    private static BlkifRequestError ParseIndirect(in BlkifIndirectRequest indirect, in BlkifDeviceLimits device, ref BlkifValidRequest valid)
    {
        var operation = (BlkifOperation)indirect.IndirectOperation;
        if (operation != BlkifOperation.Read && operation != BlkifOperation.Write)
        {
            return BlkifRequestError.BadIndirectOperation;
        }

        if (operation == BlkifOperation.Write && device.ReadOnly)
        {
            return BlkifRequestError.WriteToReadOnlyDevice;
        }

        int count = indirect.SegmentCount;
        if (count == 0)
        {
            return BlkifRequestError.NoSegments;
        }

        // The advertised maximum bounds the count, and so does what eight indirect pages can describe.
        if (count > device.MaxIndirectSegments || count > Blkif.MaxIndirectPagesPerRequest * Blkif.SegmentsPerIndirectPage)
        {
            return BlkifRequestError.TooManySegments;
        }

        // Even before the segments are seen, the smallest possible transfer (one sector per segment) must fit.
        if (!FitsOnDevice(indirect.SectorNumber, (ulong)count, device.CapacitySectors))
        {
            return BlkifRequestError.BeyondEndOfDevice;
        }

        valid.Operation = operation;
        valid.IsIndirect = true;
        valid.Handle = indirect.Handle;
        valid.SectorNumber = indirect.SectorNumber;
        valid.SegmentCount = count;
        return BlkifRequestError.None;
    }

    /// <summary>Pages that hold <paramref name="segmentCount"/> indirect segment descriptors.</summary>
    public static int IndirectPagesFor(int segmentCount)
        => (segmentCount + Blkif.SegmentsPerIndirectPage - 1) / Blkif.SegmentsPerIndirectPage;

    private static BlkifRequestError CheckSegment(BlkifSegment segment)
    {
        if (segment.LastSector >= Blkif.SectorsPerPage)
        {
            return BlkifRequestError.SegmentBeyondPage;
        }

        if (segment.FirstSector > segment.LastSector)
        {
            return BlkifRequestError.SegmentReversed;
        }

        return BlkifRequestError.None;
    }

    /// <summary>first + count &lt;= capacity, computed without wrapping past 2^64.</summary>
    private static bool FitsOnDevice(ulong first, ulong count, ulong capacity)
        => first <= capacity && count <= capacity - first;
}

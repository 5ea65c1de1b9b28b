// The block-device protocol between a guest's blkfront and a driver domain's blkback (Xen io/blkif.h).
//
// In the order of the Xen header: feature negotiation through the store, operation codes, the request and
// response layouts with a comment on every field, status codes. Layouts are those of the x86-64 C ABI; the
// tests pin every size and offset. A ring slot is one BlkifRequest (112 bytes, the largest request form);
// the discard and indirect forms are other readings of the same slot, selected by the operation byte.
//
// Negotiation (store keys, all optional except the ring itself)
//   back-end publishes: feature-flush-cache, feature-barrier, feature-discard (with discard-granularity,
//     discard-alignment, discard-secure), feature-persistent, feature-max-indirect-segments,
//     max-ring-page-order, multi-queue-max-queues, then sectors, sector-size, info (VDISK_* bits).
//   front-end publishes: ring-ref (or ring-ref0..N with ring-page-order), event-channel, protocol,
//     feature-persistent, multi-queue-num-queues.
// A back-end that did not advertise an operation answers it with EOPNOTSUPP.

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Keel.Ringlib.Protocols;

/// <summary>Constants of io/blkif.h.</summary>
public static class Blkif
{
    /// <summary>Data segments one direct request can describe (BLKIF_MAX_SEGMENTS_PER_REQUEST): chosen so
    /// that 32 requests fit in one page with the ring header.</summary>
    public const int MaxSegmentsPerRequest = 11;

    /// <summary>Pages of segment descriptors one indirect request may name (BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST).</summary>
    public const int MaxIndirectPagesPerRequest = 8;

    /// <summary>Segment descriptors in one indirect page: a 4 KiB page of 8-byte segments.</summary>
    public const int SegmentsPerIndirectPage = 512;

    /// <summary>Bytes in a sector: first_sect, last_sect and sector_number count 512-byte sectors.</summary>
    public const int SectorBytes = 512;

    /// <summary>Sectors in one 4 KiB granted page: first_sect and last_sect lie in 0..7.</summary>
    public const int SectorsPerPage = 8;

    /// <summary>Requests in a one-page ring (__CONST_RING_SIZE(blkif, 4096)).</summary>
    public const int RequestsPerPageRing = 32;

    /// <summary>BLKIF_DISCARD_SECURE: in a discard request's flag byte, erase beyond recovery.</summary>
    public const byte DiscardSecure = 1 << 0;

    /// <summary>VDISK_CDROM, in the back-end's "info" key.</summary>
    public const uint VdiskCdrom = 0x1;

    /// <summary>VDISK_REMOVABLE, in the back-end's "info" key.</summary>
    public const uint VdiskRemovable = 0x2;

    /// <summary>VDISK_READONLY, in the back-end's "info" key.</summary>
    public const uint VdiskReadOnly = 0x4;
}

/// <summary>Request operation codes (BLKIF_OP_*).</summary>
public enum BlkifOperation : byte
{
    Read = 0,
    Write = 1,

    /// <summary>Every write before it completes before it runs, and every write after waits for it.</summary>
    WriteBarrier = 2,

    /// <summary>Commit the device's volatile write cache to stable storage.</summary>
    FlushDiskCache = 3,

    /// <summary>Reserved by Xen for a vendor's device-specific packets; never valid here.</summary>
    Reserved1 = 4,

    /// <summary>The sector range is no longer in use (trim/unmap); uses the discard layout.</summary>
    Discard = 5,

    /// <summary>A read or write whose segments live in separately granted pages; uses the indirect layout.</summary>
    Indirect = 6,
}

/// <summary>Response status codes (BLKIF_RSP_*).</summary>
public enum BlkifStatus : short
{
    /// <summary>The operation is not supported (typically a barrier or flush the back-end did not advertise).</summary>
    NotSupported = -2,

    /// <summary>The operation failed (the equivalent of EIO).</summary>
    Error = -1,

    Okay = 0,
}

/// <summary>One data segment: a sector range within one granted page (struct blkif_request_segment).</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public struct BlkifSegment
{
    /// <summary>Grant reference of the page holding the data.</summary>
    [FieldOffset(0)] public uint GrantRef;

    /// <summary>First sector of the page to transfer, inclusive (0..7).</summary>
    [FieldOffset(4)] public byte FirstSector;

    /// <summary>Last sector of the page to transfer, inclusive (FirstSector..7).</summary>
    [FieldOffset(5)] public byte LastSector;

    public BlkifSegment(uint grantRef, byte firstSector, byte lastSector)
    {
        GrantRef = grantRef;
        FirstSector = firstSector;
        LastSector = lastSector;
    }
}

/// <summary>A read, write, barrier or flush request, and the shape of every ring slot (struct blkif_request).</summary>
[StructLayout(LayoutKind.Explicit, Size = 112)]
public unsafe struct BlkifRequest
{
    /// <summary>A <see cref="BlkifOperation"/>; it also selects how the rest of the slot is read.</summary>
    [FieldOffset(0)] public byte Operation;

    /// <summary>Segments in use (1..11 for reads and writes; 0 allowed for a flush or barrier).</summary>
    [FieldOffset(1)] public byte SegmentCount;

    /// <summary>The virtual device (only meaningful for reads and writes).</summary>
    [FieldOffset(2)] public ushort Handle;

    /// <summary>Chosen by the front-end, echoed in the response.</summary>
    [FieldOffset(8)] public ulong Id;

    /// <summary>First 512-byte sector on the virtual device.</summary>
    [FieldOffset(16)] public ulong SectorNumber;

    /// <summary>The segments, 8 bytes each; read and written through GetSegment and SetSegment.</summary>
    [FieldOffset(24)] private fixed ulong _segments[Blkif.MaxSegmentsPerRequest];

    /// <summary>Segment <paramref name="index"/>; an index outside 0..10 reads as an all-zero segment.</summary>
    public readonly BlkifSegment GetSegment(int index)
    {
        if ((uint)index >= Blkif.MaxSegmentsPerRequest)
        {
            return default;
        }

        ulong raw = _segments[index];
        return Unsafe.As<ulong, BlkifSegment>(ref raw);
    }

    /// <summary>Stores segment <paramref name="index"/>; false (and nothing stored) outside 0..10.</summary>
    public bool SetSegment(int index, BlkifSegment segment)
    {
        if ((uint)index >= Blkif.MaxSegmentsPerRequest)
        {
            return false;
        }

        _segments[index] = Unsafe.As<BlkifSegment, ulong>(ref segment);
        return true;
    }

    /// <summary>This slot read as a discard request (meaningful when Operation is Discard).</summary>
    public readonly BlkifDiscardRequest AsDiscard()
    {
        BlkifRequest copy = this;
        return Unsafe.As<BlkifRequest, BlkifDiscardRequest>(ref copy);
    }

    /// <summary>This slot read as an indirect request (meaningful when Operation is Indirect).</summary>
    public readonly BlkifIndirectRequest AsIndirect()
    {
        BlkifRequest copy = this;
        return Unsafe.As<BlkifRequest, BlkifIndirectRequest>(ref copy);
    }

    /// <summary>A slot holding <paramref name="discard"/>, the rest zero.</summary>
    public static BlkifRequest FromDiscard(in BlkifDiscardRequest discard)
    {
        BlkifRequest slot = default;
        Unsafe.As<BlkifRequest, BlkifDiscardRequest>(ref slot) = discard;
        return slot;
    }

    /// <summary>A slot holding <paramref name="indirect"/>, the rest zero.</summary>
    public static BlkifRequest FromIndirect(in BlkifIndirectRequest indirect)
    {
        BlkifRequest slot = default;
        Unsafe.As<BlkifRequest, BlkifIndirectRequest>(ref slot) = indirect;
        return slot;
    }
}

/// <summary>A discard request (struct blkif_request_discard); 32 bytes at the start of a slot.</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public struct BlkifDiscardRequest
{
    /// <summary>Always <see cref="BlkifOperation.Discard"/>.</summary>
    [FieldOffset(0)] public byte Operation;

    /// <summary><see cref="Blkif.DiscardSecure"/> or zero (ignored unless the back-end set discard-secure).</summary>
    [FieldOffset(1)] public byte Flag;

    /// <summary>The virtual device.</summary>
    [FieldOffset(2)] public ushort Handle;

    /// <summary>Chosen by the front-end, echoed in the response.</summary>
    [FieldOffset(8)] public ulong Id;

    /// <summary>First sector to discard.</summary>
    [FieldOffset(16)] public ulong SectorNumber;

    /// <summary>Number of contiguous sectors to discard.</summary>
    [FieldOffset(24)] public ulong SectorCount;
}

/// <summary>An indirect read or write (struct blkif_request_indirect); 64 bytes at the start of a slot on
/// x86-64 (i386 appends 8 bytes of padding; this library follows x86-64).</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public unsafe struct BlkifIndirectRequest
{
    /// <summary>Always <see cref="BlkifOperation.Indirect"/>.</summary>
    [FieldOffset(0)] public byte Operation;

    /// <summary>The real operation: Read or Write.</summary>
    [FieldOffset(1)] public byte IndirectOperation;

    /// <summary>Segments described by the indirect pages, up to the back-end's feature-max-indirect-segments.</summary>
    [FieldOffset(2)] public ushort SegmentCount;

    /// <summary>Chosen by the front-end, echoed in the response.</summary>
    [FieldOffset(8)] public ulong Id;

    /// <summary>First 512-byte sector on the virtual device.</summary>
    [FieldOffset(16)] public ulong SectorNumber;

    /// <summary>The virtual device.</summary>
    [FieldOffset(24)] public ushort Handle;

    /// <summary>Grant references of the pages holding the segment descriptors, 512 to a page.</summary>
    [FieldOffset(28)] private fixed uint _indirectGrants[Blkif.MaxIndirectPagesPerRequest];

    /// <summary>Indirect page grant <paramref name="index"/>; 0 outside 0..7.</summary>
    public readonly uint GetIndirectGrant(int index)
        => (uint)index < Blkif.MaxIndirectPagesPerRequest ? _indirectGrants[index] : 0;

    /// <summary>Stores indirect page grant <paramref name="index"/>; false (and nothing stored) outside 0..7.</summary>
    public bool SetIndirectGrant(int index, uint grantRef)
    {
        if ((uint)index >= Blkif.MaxIndirectPagesPerRequest)
        {
            return false;
        }

        _indirectGrants[index] = grantRef;
        return true;
    }
}

/// <summary>A response (struct blkif_response).</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct BlkifResponse
{
    /// <summary>The request's Id.</summary>
    [FieldOffset(0)] public ulong Id;

    /// <summary>The request's operation.</summary>
    [FieldOffset(8)] public byte Operation;

    /// <summary>A <see cref="BlkifStatus"/>.</summary>
    [FieldOffset(10)] public short Status;
}

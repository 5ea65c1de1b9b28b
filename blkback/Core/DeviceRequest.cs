using System;
using Keel.Drivers.Virtio;
using Keel.Ringlib.Protocols;

namespace Keel.Blkback.Core;

/// <summary>
/// One request to the disk: a run of ring requests that follow each other on the disk, merged (or one part
/// of a ring request larger than the disk takes). Its parts are answered individually when it completes.
/// </summary>
internal sealed class DeviceRequest
{
    // As PendingRequest's: small arrays for the common request, made for every device request before any
    // large one so they share a few pages, and large ones taken over (the small contents copied) only by a
    // request that outgrows them.
    private const int Few = Blkif.MaxSegmentsPerRequest;
    private readonly BlockSegment[] _fewSegments;
    private readonly int[] _fewParts;
    private BlockSegment[] _manySegments;
    private int[] _manyParts;
    private BlockSegment[] _segments;
    private int[] _parts;

    public DeviceRequest(int maxSegments)
    {
        MaxSegments = maxSegments;
        _fewSegments = new BlockSegment[maxSegments < Few ? maxSegments : Few];
        // Every part but a flush brings at least one segment, and a flush is never merged.
        _fewParts = new int[_fewSegments.Length];
        _segments = _fewSegments;
        _parts = _fewParts;
    }

    /// <summary>Makes the large arrays (once, at construction, after every device request's small ones).</summary>
    public void ReserveSegments()
    {
        if (MaxSegments > _fewSegments.Length)
        {
            _manySegments = new BlockSegment[MaxSegments];
            _manyParts = new int[MaxSegments];
        }
    }

    public BlockOperation Operation;

    /// <summary>The disk sector of the first segment.</summary>
    public ulong Sector;

    /// <summary>Sectors covered so far: the next mergeable request starts at Sector + Sectors.</summary>
    public ulong Sectors;

    /// <summary>Submitted and not yet completed.</summary>
    public bool InFlight;

    public int SegmentCount { get; private set; }

    public int PartCount { get; private set; }

    public int MaxSegments { get; }

    public ReadOnlySpan<BlockSegment> Segments => new ReadOnlySpan<BlockSegment>(_segments, 0, SegmentCount);

    /// <summary>The pending request index of part <paramref name="index"/>.</summary>
    public int Part(int index) => _parts[index];

    public void Begin(BlockOperation operation, ulong sector)
    {
        Operation = operation;
        Sector = sector;
        Sectors = 0;
        SegmentCount = 0;
        PartCount = 0;
        InFlight = false;
        _segments = _fewSegments;
        _parts = _fewParts;
    }

    public bool HasRoomForPart => PartCount < MaxSegments;

    public void AddPart(int pendingRequest)
    {
        if (PartCount == _parts.Length) Grow();
        _parts[PartCount++] = pendingRequest;
    }

    /// <summary>Appends the sectors <paramref name="wire"/> names within the page mapped at
    /// <paramref name="busAddress"/>; returns how many there are.</summary>
    public uint AddSegment(ulong busAddress, BlkifSegment wire)
    {
        // The parser checked FirstSector <= LastSector < SectorsPerPage: the range lies within the page.
        uint sectors = (uint)(wire.LastSector - wire.FirstSector + 1);
        if (SegmentCount == _segments.Length) Grow();
        _segments[SegmentCount++] = new BlockSegment(busAddress + (ulong)wire.FirstSector * Blkif.SectorBytes, sectors * Blkif.SectorBytes);
        Sectors += sectors;
        return sectors;
    }

    /// <summary>Moves to the large arrays: callers add no more than <see cref="MaxSegments"/> segments or parts.</summary>
    private void Grow()
    {
        if (_segments == _manySegments)
        {
            return;
        }

        _fewSegments.AsSpan(0, SegmentCount).CopyTo(_manySegments);
        _fewParts.AsSpan(0, PartCount).CopyTo(_manyParts);
        _segments = _manySegments;
        _parts = _manyParts;
    }
}

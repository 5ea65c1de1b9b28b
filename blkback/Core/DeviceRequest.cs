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
    private readonly BlockSegment[] _segments;
    private readonly int[] _parts;

    public DeviceRequest(int maxSegments)
    {
        _segments = new BlockSegment[maxSegments];
        // Every part but a flush brings at least one segment, and a flush is never merged.
        _parts = new int[maxSegments];
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

    public int MaxSegments => _segments.Length;

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
    }

    public bool HasRoomForPart => PartCount < _parts.Length;

    public void AddPart(int pendingRequest) => _parts[PartCount++] = pendingRequest;

    /// <summary>Appends the sectors <paramref name="wire"/> names within the page mapped at
    /// <paramref name="busAddress"/>; returns how many there are.</summary>
    public uint AddSegment(ulong busAddress, BlkifSegment wire)
    {
        // The parser checked FirstSector <= LastSector < SectorsPerPage: the range lies within the page.
        uint sectors = (uint)(wire.LastSector - wire.FirstSector + 1);
        _segments[SegmentCount++] = new BlockSegment(busAddress + (ulong)wire.FirstSector * Blkif.SectorBytes, sectors * Blkif.SectorBytes);
        Sectors += sectors;
        return sectors;
    }
}

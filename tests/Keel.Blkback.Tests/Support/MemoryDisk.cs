using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Keel.Blkback.Core;
using Keel.Drivers.Virtio;

namespace Keel.Blkback.Tests.Support;

/// <summary>A request as the disk received it.</summary>
public sealed record DiskRequest(BlockOperation Operation, ulong Sector, BlockSegment[] Segments, ulong Token)
{
    public ulong Sectors
    {
        get
        {
            ulong bytes = 0;
            foreach (BlockSegment segment in Segments)
            {
                bytes += segment.Length;
            }

            return bytes / 512;
        }
    }
}

/// <summary>
/// A RAM disk behind the BlockDevice seam. Submitted requests reach it at Kick and complete only when
/// reaped, in an order a seeded random source picks (or not at all while <see cref="Hold"/> is set); the
/// data moves at completion, through the bus addresses, which must lie in live grant mappings (writable
/// ones for a read). Every request it received is kept, so tests can check where each one landed.
/// </summary>
public sealed unsafe class MemoryDisk : BlockDevice
{
    private readonly byte[] _data;
    private readonly List<DiskRequest> _queued = new();
    private readonly List<DiskRequest> _onDevice = new();
    private readonly Random _random;
    private readonly TestGrants _grants;

    public MemoryDisk(TestGrants grants, ulong sectors, int queueDepth = 64, int maxSegments = 64, int seed = 1)
    {
        _grants = grants;
        _data = new byte[sectors * 512];
        QueueDepth = queueDepth;
        MaxSegments = maxSegments;
        _random = new Random(seed);
    }

    public override ulong Capacity => (ulong)_data.Length / 512;

    public override bool IsReadOnly => ReadOnlyDisk;

    public bool ReadOnlyDisk { get; set; }

    public override int MaxSegments { get; }

    public override int QueueDepth { get; }

    /// <summary>Requests stay on the device, uncompleted, while set.</summary>
    public bool Hold { get; set; }

    /// <summary>Requests that touch a sector this says true for fail with an I/O error.</summary>
    public Func<ulong, bool> FailSector { get; set; } = _ => false;

    /// <summary>Every request submitted, in submission order.</summary>
    public List<DiskRequest> Received { get; } = new();

    public int Kicks { get; private set; }

    /// <summary>Segments whose bus range was not a live mapping of the right kind: must stay 0.</summary>
    public int UnmappedAccesses { get; private set; }

    public int InFlight => _queued.Count + _onDevice.Count;

    public Span<byte> Sector(ulong sector) => _data.AsSpan((int)(sector * 512), 512);

    public override bool TrySubmit(BlockOperation operation, ulong sector, ReadOnlySpan<BlockSegment> segments, ulong token)
    {
        if (InFlight >= QueueDepth || segments.Length > MaxSegments)
        {
            return false;
        }

        var request = new DiskRequest(operation, sector, segments.ToArray(), token);
        _queued.Add(request);
        Received.Add(request);
        return true;
    }

    public override void Kick()
    {
        Kicks++;
        _onDevice.AddRange(_queued);
        _queued.Clear();
    }

    public override int Reap(Span<BlockCompletion> completions)
    {
        int count = 0;
        while (!Hold && count < completions.Length && _onDevice.Count > 0)
        {
            int pick = _random.Next(_onDevice.Count);
            DiskRequest request = _onDevice[pick];
            _onDevice.RemoveAt(pick);
            completions[count++] = new BlockCompletion(request.Token, Perform(request));
        }

        return count;
    }

    private BlockStatus Perform(DiskRequest request)
    {
        if (request.Operation == BlockOperation.Flush)
        {
            return BlockStatus.Ok;
        }

        ulong end = request.Sector + request.Sectors;
        if (end > Capacity || (request.Operation == BlockOperation.Write && ReadOnlyDisk))
        {
            return BlockStatus.IoError;
        }

        for (ulong s = request.Sector; s < end; s++)
        {
            if (FailSector(s))
            {
                return BlockStatus.IoError;
            }
        }

        int offset = (int)(request.Sector * 512);
        foreach (BlockSegment segment in request.Segments)
        {
            bool read = request.Operation == BlockOperation.Read;
            if (!_grants.Covers(segment.BusAddress, segment.Length, read))
            {
                UnmappedAccesses++;
                return BlockStatus.IoError;
            }

            var memory = new Span<byte>((void*)segment.BusAddress, (int)segment.Length);
            Span<byte> disk = _data.AsSpan(offset, (int)segment.Length);
            if (read)
            {
                disk.CopyTo(memory);
            }
            else
            {
                memory.CopyTo(disk);
            }

            offset += (int)segment.Length;
        }

        return BlockStatus.Ok;
    }
}

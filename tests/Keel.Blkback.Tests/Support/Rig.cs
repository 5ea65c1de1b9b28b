using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Keel.Blkback.Core;
using Keel.Ringlib;
using Keel.Ringlib.Protocols;
using Xunit;

namespace Keel.Blkback.Tests.Support;

/// <summary>How a test's vbd is set up.</summary>
public sealed record RigOptions
{
    public ulong DiskSectors { get; init; } = 4096;
    public ulong ExtentStart { get; init; } = 1024;
    public ulong ExtentSectors { get; init; } = 2048;
    public bool ReadOnly { get; init; }
    public int QueueDepth { get; init; } = 64;
    public int MaxSegments { get; init; } = 64;
    public int PageOrder { get; init; }
    public uint StartIndex { get; init; }
    public int Seed { get; init; } = 1;
    public VbdFeatures Features { get; init; } = new VbdFeatures(VbdFeatures.DefaultMaxIndirectSegments, false);
}

/// <summary>
/// A front-end, its ring, a model grant table, an in-memory disk and the engine under test, wired as the
/// driver domain wires them. The test plays the front-end through <see cref="Front"/> (honest) or the raw
/// shared memory (hostile).
/// </summary>
public sealed unsafe class Rig : IDisposable
{
    public const ushort FrontendId = 7;

    private readonly byte* _region;
    private FrontRing<BlkifRequest, BlkifResponse> _front;

    public Rig(RigOptions options = null)
    {
        Options = options ?? new RigOptions();
        RegionBytes = BlkifRingPages.PageBytes << Options.PageOrder;
        _region = (byte*)NativeMemory.AlignedAlloc(RegionBytes, 4096);
        NativeMemory.Clear(_region, RegionBytes);
        Assert.True(FrontRing<BlkifRequest, BlkifResponse>.TryInitialize(_region, RegionBytes, out _front));
        if (Options.StartIndex != 0)
        {
            // Both sides as if StartIndex requests had already gone round: the indices near 2^32.
            Header->RequestProducer = Header->ResponseProducer = Options.StartIndex;
            Header->RequestEvent = Header->ResponseEvent = Options.StartIndex + 1;
            Assert.True(FrontRing<BlkifRequest, BlkifResponse>.TryAttach(_region, RegionBytes, Options.StartIndex, out _front));
        }

        Assert.True(BackRing<BlkifRequest, BlkifResponse>.TryAttach(_region, RegionBytes, Options.StartIndex, out var back));
        Grants = new TestGrants { Frontend = FrontendId };
        Disk = new MemoryDisk(Grants, Options.DiskSectors, Options.QueueDepth, Options.MaxSegments, Options.Seed);
        Notifier = new CountingNotifier();
        var extent = new VbdExtent(Disk, Options.ExtentStart, Options.ExtentSectors, Options.ReadOnly);
        Assert.True(VirtualBlockDevice.TryCreate(FrontendId, extent, Options.Features, back, Grants, Notifier, out var engine));
        Engine = engine;
    }

    public RigOptions Options { get; }
    public uint RegionBytes { get; }
    public TestGrants Grants { get; }
    public MemoryDisk Disk { get; }
    public CountingNotifier Notifier { get; }
    public VirtualBlockDevice Engine { get; }
    public ref FrontRing<BlkifRequest, BlkifResponse> Front => ref _front;
    public SharedRingHeader* Header => (SharedRingHeader*)_region;
    public uint RingSize => _front.Size;

    /// <summary>The shared slot request <paramref name="index"/> occupies.</summary>
    public BlkifRequest* Slot(uint index) => (BlkifRequest*)(_region + RingGeometry.HeaderBytes + (index & (RingSize - 1)) * 112);

    /// <summary>A granted page and a segment covering all of it.</summary>
    public BlkifSegment Page(uint grantRef, bool readOnly = false)
    {
        Grants.Grant(grantRef, readOnly);
        return new BlkifSegment(grantRef, 0, 7);
    }

    /// <summary>Segments over fresh pages from <paramref name="firstRef"/> on.</summary>
    public BlkifSegment[] Pages(uint firstRef, int count)
    {
        var segments = new BlkifSegment[count];
        for (int i = 0; i < count; i++)
        {
            segments[i] = Page(firstRef + (uint)i);
        }

        return segments;
    }

    public static BlkifRequest Request(BlkifOperation operation, ulong id, ulong sector, params BlkifSegment[] segments)
    {
        BlkifRequest request = default;
        request.Operation = (byte)operation;
        request.Id = id;
        request.SectorNumber = sector;
        request.SegmentCount = (byte)segments.Length;
        for (int i = 0; i < segments.Length; i++)
        {
            request.SetSegment(i, segments[i]);
        }

        return request;
    }

    /// <summary>An indirect request whose descriptors are written into fresh pages from <paramref name="indirectRef"/> on.</summary>
    public BlkifRequest Indirect(BlkifOperation operation, ulong id, ulong sector, uint indirectRef, BlkifSegment[] segments)
    {
        BlkifIndirectRequest indirect = default;
        indirect.Operation = (byte)BlkifOperation.Indirect;
        indirect.IndirectOperation = (byte)operation;
        indirect.Id = id;
        indirect.SectorNumber = sector;
        indirect.SegmentCount = (ushort)segments.Length;
        for (int page = 0; page * 512 < segments.Length; page++)
        {
            var descriptors = (BlkifSegment*)Grants.Grant(indirectRef + (uint)page);
            for (int i = page * 512; i < segments.Length && i < (page + 1) * 512; i++)
            {
                descriptors[i - page * 512] = segments[i];
            }

            indirect.SetIndirectGrant(page, indirectRef + (uint)page);
        }

        return BlkifRequest.FromIndirect(indirect);
    }

    /// <summary>Publishes <paramref name="requests"/> as an honest front-end does.</summary>
    public void Push(params BlkifRequest[] requests)
    {
        Write(requests);
        _front.PushRequests();
    }

    /// <summary>Publishes <paramref name="requests"/>; whether the engine asked to be notified of them (io/ring.h:
    /// RING_PUSH_REQUESTS_AND_CHECK_NOTIFY), which an honest front-end notifies only then.</summary>
    public bool PushAndCheckNotify(params BlkifRequest[] requests)
    {
        Write(requests);
        return _front.PushRequestsAndCheckNotify();
    }

    private void Write(BlkifRequest[] requests)
    {
        foreach (BlkifRequest request in requests)
        {
            Assert.True(_front.TryWriteRequest(request), "the test's front-end ran out of ring");
        }
    }

    /// <summary>One wake-up of the driver domain.</summary>
    public void Step()
    {
        Engine.ProcessCompletions();
        Engine.ProcessRing();
    }

    /// <summary>Wake-ups until nothing is left on the disk or pending (or the disk holds everything).</summary>
    public void Run()
    {
        for (int i = 0; i < 1000; i++)
        {
            Step();
            if (Engine.Pending == 0 || Disk.Hold)
            {
                return;
            }
        }

        Assert.Fail("the engine did not settle");
    }

    /// <summary>Every response the front-end can take now.</summary>
    public List<BlkifResponse> Responses()
    {
        var responses = new List<BlkifResponse>();
        while (_front.TryTakeResponse(out BlkifResponse response))
        {
            responses.Add(response);
        }

        return responses;
    }

    /// <summary>Disconnects and completes what is on the disk.</summary>
    public void Disconnect()
    {
        Engine.Disconnect();
        Disk.Hold = false;
        for (int i = 0; i < 100 && Engine.InFlight > 0; i++)
        {
            Engine.ProcessCompletions();
        }
    }

    public void Dispose()
    {
        Grants.Dispose();
        NativeMemory.AlignedFree(_region);
    }
}

using Keel.Blkback.Core;
using Keel.Blkback.Tests.Support;
using Keel.Ringlib.Protocols;
using Xunit;

namespace Keel.Blkback.Tests;

/// <summary>HOSTILE-INPUTS class 9 at this layer: closing with I/O in flight, and what disconnect leaves.</summary>
public sealed unsafe class LifecycleTests
{
    [Fact]
    public void Disconnect_with_io_in_flight_answers_nothing_and_unmaps_once_the_disk_finishes()
    {
        using var rig = new Rig();
        rig.Disk.Hold = true;
        rig.Push(Rig.Request(BlkifOperation.Read, 1, 0, rig.Pages(1, 3)), Rig.Request(BlkifOperation.Write, 2, 100, rig.Pages(10, 2)));
        rig.Step();
        rig.Engine.Disconnect();

        // The disk may still write into these pages: they stay mapped until it says it is done.
        Assert.Equal(2, rig.Engine.InFlight);
        Assert.Equal(5, rig.Grants.Live);
        rig.Disconnect();

        Assert.Equal(0, rig.Engine.InFlight);
        Assert.Equal(0, rig.Engine.Pending);
        Assert.Equal(0, rig.Grants.Live);
        Assert.Equal(0u, rig.Header->ResponseProducer);
        Assert.Equal(0, rig.Notifier.Notifications);
        Assert.Equal(0, rig.Disk.UnmappedAccesses);
    }

    [Fact]
    public void Requests_still_waiting_for_the_disk_are_dropped_and_unmapped_at_disconnect()
    {
        using var rig = new Rig(new RigOptions { QueueDepth = 1 });
        rig.Disk.Hold = true;
        rig.Push(
            Rig.Request(BlkifOperation.Read, 1, 0, rig.Page(1)),
            Rig.Request(BlkifOperation.Read, 2, 100, rig.Page(2)),
            Rig.Request(BlkifOperation.Read, 3, 200, rig.Page(3)));
        rig.Step();
        Assert.Equal(3, rig.Grants.Live);

        rig.Engine.Disconnect();
        Assert.Equal(1, rig.Grants.Live);
        Assert.Equal(1, rig.Engine.Pending);
        rig.Disconnect();
        Assert.Equal(0, rig.Grants.Live);
        Assert.Single(rig.Disk.Received);
    }

    [Fact]
    public void A_request_split_across_device_requests_is_dropped_only_when_its_submitted_part_completes()
    {
        using var rig = new Rig(new RigOptions { QueueDepth = 1, MaxSegments = 8 });
        rig.Disk.Hold = true;
        rig.Push(rig.Indirect(BlkifOperation.Read, 1, 0, 900, rig.Pages(1, 20)));
        rig.Step();
        Assert.Single(rig.Disk.Received);

        rig.Engine.Disconnect();
        Assert.Equal(20, rig.Grants.Live);
        rig.Disconnect();
        Assert.Equal(0, rig.Grants.Live);
        Assert.Single(rig.Disk.Received);
    }

    [Fact]
    public void After_disconnect_no_request_is_taken_and_a_second_disconnect_changes_nothing()
    {
        using var rig = new Rig();
        rig.Engine.Disconnect();
        rig.Push(Rig.Request(BlkifOperation.Read, 1, 0, rig.Page(1)));
        rig.Step();
        rig.Engine.Disconnect();

        Assert.True(rig.Engine.IsDisconnected);
        Assert.Equal(0ul, rig.Engine.Statistics.Requests);
        Assert.Empty(rig.Disk.Received);
        Assert.Equal(0, rig.Grants.Live);
    }

    [Fact]
    public void A_new_engine_attached_at_the_shared_indices_serves_what_the_old_one_never_answered()
    {
        using var rig = new Rig();
        rig.Disk.Hold = true;
        rig.Push(Rig.Request(BlkifOperation.Read, 1, 0, rig.Page(1)));
        rig.Step();
        rig.Disconnect();

        Assert.True(Keel.Ringlib.BackRing<BlkifRequest, BlkifResponse>.TryAttachAtSharedIndices(rig.Header, rig.RegionBytes, out var ring));
        var extent = new VbdExtent(rig.Disk, rig.Options.ExtentStart, rig.Options.ExtentSectors, false);
        Assert.True(VirtualBlockDevice.TryCreate(Rig.FrontendId, extent, rig.Options.Features, ring, rig.Grants, rig.Notifier, out var again));
        again.ProcessRing();
        again.ProcessCompletions();

        BlkifResponse response = Assert.Single(rig.Responses());
        Assert.Equal((1ul, (short)BlkifStatus.Okay), (response.Id, response.Status));
    }

    [Fact]
    public void The_same_engine_reattached_to_a_new_ring_after_a_disconnect_serves_it_and_allocates_nothing()
    {
        using var rig = new Rig();
        rig.Disk.Hold = true;
        rig.Push(Rig.Request(BlkifOperation.Read, 1, 0, rig.Page(1)));
        rig.Step();
        Assert.True(Keel.Ringlib.BackRing<BlkifRequest, BlkifResponse>.TryAttachAtSharedIndices(rig.Header, rig.RegionBytes, out var ring));
        // Not while connected, nor while the disk still holds the old ring's request.
        Assert.False(rig.Engine.TryReattach(ring));
        rig.Engine.Disconnect();
        Assert.False(rig.Engine.TryReattach(ring));
        rig.Disconnect();

        long before = System.GC.GetAllocatedBytesForCurrentThread();
        Assert.True(rig.Engine.TryReattach(ring));
        Assert.Equal(before, System.GC.GetAllocatedBytesForCurrentThread());
        Assert.False(rig.Engine.IsDisconnected);
        rig.Engine.ProcessRing();
        rig.Disk.Hold = false;
        rig.Engine.ProcessCompletions();
        BlkifResponse response = Assert.Single(rig.Responses());
        Assert.Equal((1ul, (short)BlkifStatus.Okay), (response.Id, response.Status));
    }

    [Fact]
    public void An_engine_is_not_made_without_its_parts()
    {
        using var rig = new Rig();
        var extent = new VbdExtent(rig.Disk, 0, 10, false);
        Assert.False(VirtualBlockDevice.TryCreate(1, extent, VbdFeatures.Advertised, default, rig.Grants, rig.Notifier, out _));
        Assert.False(BlkifRingPages.TryAttach(rig.Header, 4, out _));
        Assert.True(BlkifRingPages.TryAttach(rig.Header, 0, out var ring));
        Assert.False(VirtualBlockDevice.TryCreate(1, extent, VbdFeatures.Advertised, ring, null, rig.Notifier, out _));
        Assert.False(VirtualBlockDevice.TryCreate(1, new VbdExtent(rig.Disk, 0, rig.Disk.Capacity + 1, false), VbdFeatures.Advertised, ring, rig.Grants, rig.Notifier, out _));
    }
}

using System.Linq;
using Keel.Blkback.Tests.Support;
using Keel.Drivers.Virtio;
using Keel.Ringlib.Protocols;
using Xunit;

namespace Keel.Blkback.Tests;

/// <summary>HOSTILE-INPUTS classes 2 and 6: shared memory rewritten after the back-end read it, and grants
/// that will not map.</summary>
public sealed unsafe class HostileGrantTests
{
    [Fact]
    public void A_slot_rewritten_while_its_pages_are_mapped_is_served_as_it_was_first_read()
    {
        using var rig = new Rig();
        rig.Push(Rig.Request(BlkifOperation.Read, 1, 16, rig.Page(1)));
        rig.Grants.OnMap = _ =>
        {
            BlkifRequest* slot = rig.Slot(0);
            slot->Operation = (byte)BlkifOperation.Write;
            slot->SectorNumber = ulong.MaxValue - 100;
            slot->SegmentCount = 11;
            slot->SetSegment(0, new BlkifSegment(99, 0, 7));
        };
        rig.Run();

        DiskRequest request = Assert.Single(rig.Disk.Received);
        Assert.Equal((BlockOperation.Read, rig.Options.ExtentStart + 16, 1), (request.Operation, request.Sector, request.Segments.Length));
        BlkifResponse response = Assert.Single(rig.Responses());
        Assert.Equal((1ul, (byte)BlkifOperation.Read), (response.Id, response.Operation));
    }

    [Fact]
    public void Indirect_descriptors_rewritten_after_they_were_read_are_not_seen()
    {
        using var rig = new Rig();
        rig.Push(rig.Indirect(BlkifOperation.Write, 1, 0, 900, rig.Pages(1, 4)));
        rig.Grants.OnMap = grantRef =>
        {
            if (grantRef != 900)
            {
                var descriptors = (BlkifSegment*)rig.Grants.Grant(900);
                descriptors[0] = new BlkifSegment(77, 0, 7);
                descriptors[1] = new BlkifSegment(1, 3, 1);
            }
        };
        rig.Run();

        DiskRequest request = Assert.Single(rig.Disk.Received);
        Assert.Equal(32ul, request.Sectors);
        Assert.Equal((short)BlkifStatus.Okay, Assert.Single(rig.Responses()).Status);
    }

    [Fact]
    public void A_map_refused_half_way_through_a_request_is_unwound_and_answered_with_an_error()
    {
        using var rig = new Rig();
        rig.Grants.Refused.Add(4);
        rig.Push(Rig.Request(BlkifOperation.Write, 1, 0, rig.Pages(1, 6)));
        rig.Run();

        Assert.Equal((short)BlkifStatus.Error, Assert.Single(rig.Responses()).Status);
        // The six pages went in one batch, as Xen does it every operation was tried; the five that mapped were
        // unmapped again in one more call.
        Assert.Equal((6, 1, 1), (rig.Grants.DeviceMaps, rig.Grants.MapCalls, rig.Grants.UnmapCalls));
        Assert.Equal(0, rig.Grants.Live);
        Assert.Equal(0, rig.Grants.BadUnmaps);
        Assert.Empty(rig.Disk.Received);
        Assert.Equal(1ul, rig.Engine.Statistics.GrantMapFailures);
    }

    [Fact]
    public void An_unknown_grant_reference_is_answered_with_an_error()
    {
        using var rig = new Rig();
        rig.Push(Rig.Request(BlkifOperation.Read, 1, 0, new BlkifSegment(12345, 0, 7)));
        rig.Run();

        Assert.Equal((short)BlkifStatus.Error, Assert.Single(rig.Responses()).Status);
        Assert.Equal(0, rig.Grants.Live);
    }

    [Fact]
    public void A_read_only_grant_serves_a_disk_write_but_not_a_disk_read_into_it()
    {
        using var rig = new Rig();
        rig.Push(
            Rig.Request(BlkifOperation.Write, 1, 0, rig.Page(1, readOnly: true)),
            Rig.Request(BlkifOperation.Read, 2, 100, rig.Page(1, readOnly: true)));
        rig.Run();

        var statuses = rig.Responses().OrderBy(r => r.Id).Select(r => (BlkifStatus)r.Status);
        Assert.Equal(new[] { BlkifStatus.Okay, BlkifStatus.Error }, statuses);
        Assert.Equal(0, rig.Disk.UnmappedAccesses);
    }

    [Fact]
    public void A_refused_indirect_page_is_answered_with_an_error_and_nothing_stays_mapped()
    {
        using var rig = new Rig();
        rig.Push(rig.Indirect(BlkifOperation.Read, 2, 0, 900, rig.Pages(1, 8)));
        rig.Grants.Refused.Add(900);
        rig.Run();

        Assert.Equal((short)BlkifStatus.Error, Assert.Single(rig.Responses()).Status);
        Assert.Equal(0, rig.Grants.Live);
        Assert.Equal(0, rig.Grants.DeviceMaps);
        Assert.Equal(1ul, rig.Engine.Statistics.IndirectPageFailures);
    }

    [Fact]
    public void The_same_grant_twice_in_one_request_is_mapped_twice_and_unmapped_twice()
    {
        using var rig = new Rig();
        BlkifSegment page = rig.Page(1);
        rig.Push(Rig.Request(BlkifOperation.Write, 1, 0, page, page, page));
        rig.Run();

        Assert.Equal((short)BlkifStatus.Okay, Assert.Single(rig.Responses()).Status);
        Assert.Equal(3, rig.Grants.DeviceMaps);
        Assert.Equal(0, rig.Grants.Live);
        Assert.Equal(0, rig.Grants.BadUnmaps);
    }
}

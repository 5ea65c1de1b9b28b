using System.Linq;
using Keel.Blkback.Core;
using Keel.Blkback.Tests.Support;
using Keel.Ringlib.Protocols;
using Xunit;

namespace Keel.Blkback.Tests;

/// <summary>HOSTILE-INPUTS class 7: blkif fields that break io/blkif.h or the vbd's limits are answered
/// with an error (or EOPNOTSUPP) without a page mapped or the disk touched.</summary>
public sealed unsafe class HostileRequestTests
{
    public enum Broken
    {
        NoSegments,
        TwelveSegments,
        FirstSectorAfterLast,
        LastSectorBeyondPage,
        PastTheEndOfTheVbd,
        SectorPlusCountWrapsTwoToThe64,
        ReservedOperation,
        UnknownOperation,
        Barrier,
        Discard,
        IndirectWithoutSegments,
        IndirectWithTooManySegments,
        IndirectFlush,
    }

    public static TheoryData<Broken> AllBroken => new(System.Enum.GetValues<Broken>());

    private static BlkifRequest Build(Rig rig, Broken broken)
    {
        BlkifSegment page = rig.Page(1);
        ulong end = rig.Options.ExtentSectors;
        switch (broken)
        {
            case Broken.NoSegments: return Rig.Request(BlkifOperation.Read, 5, 0);
            case Broken.TwelveSegments:
                BlkifRequest twelve = Rig.Request(BlkifOperation.Read, 5, 0, rig.Pages(1, 11));
                twelve.SegmentCount = 12;
                return twelve;
            case Broken.FirstSectorAfterLast: return Rig.Request(BlkifOperation.Read, 5, 0, new BlkifSegment(1, 4, 3));
            case Broken.LastSectorBeyondPage: return Rig.Request(BlkifOperation.Read, 5, 0, new BlkifSegment(1, 0, 8));
            case Broken.PastTheEndOfTheVbd: return Rig.Request(BlkifOperation.Read, 5, end - 7, page);
            case Broken.SectorPlusCountWrapsTwoToThe64: return Rig.Request(BlkifOperation.Read, 5, ulong.MaxValue - 3, page);
            case Broken.ReservedOperation: return Rig.Request(BlkifOperation.Reserved1, 5, 0, page);
            case Broken.UnknownOperation: return Rig.Request((BlkifOperation)200, 5, 0, page);
            case Broken.Barrier: return Rig.Request(BlkifOperation.WriteBarrier, 5, 0, page);
            case Broken.Discard: return Rig.Request(BlkifOperation.Discard, 5, 0);
            case Broken.IndirectWithoutSegments: return rig.Indirect(BlkifOperation.Read, 5, 0, 900, new BlkifSegment[0]);
            case Broken.IndirectWithTooManySegments: return rig.Indirect(BlkifOperation.Read, 5, 0, 900, Enumerable.Repeat(page, 257).ToArray());
            default: return rig.Indirect(BlkifOperation.FlushDiskCache, 5, 0, 900, new[] { page });
        }
    }

    [Theory]
    [MemberData(nameof(AllBroken))]
    public void A_broken_request_is_answered_with_an_error_and_touches_neither_grants_nor_disk(Broken broken)
    {
        using var rig = new Rig();
        rig.Push(Build(rig, broken));
        rig.Run();

        BlkifResponse response = Assert.Single(rig.Responses());
        Assert.Equal(5ul, response.Id);
        BlkifStatus expected = broken is Broken.Barrier or Broken.Discard ? BlkifStatus.NotSupported : BlkifStatus.Error;
        Assert.Equal((short)expected, response.Status);
        Assert.Empty(rig.Disk.Received);
        Assert.Equal(0, rig.Grants.DeviceMaps);
        Assert.Equal(0, rig.Grants.Live);
        Assert.Equal(1ul, rig.Engine.Statistics.Errors);
    }

    [Fact]
    public void A_write_to_a_read_only_vbd_is_refused_and_a_read_is_served()
    {
        using var rig = new Rig(new RigOptions { ReadOnly = true });
        rig.Push(Rig.Request(BlkifOperation.Write, 1, 0, rig.Page(1)), Rig.Request(BlkifOperation.Read, 2, 0, rig.Page(2)));
        rig.Push(rig.Indirect(BlkifOperation.Write, 3, 0, 900, new[] { rig.Page(3) }));
        rig.Run();

        var statuses = rig.Responses().OrderBy(r => r.Id).Select(r => (BlkifStatus)r.Status);
        Assert.Equal(new[] { BlkifStatus.Error, BlkifStatus.Okay, BlkifStatus.Error }, statuses);
        Assert.All(rig.Disk.Received, r => Assert.Equal(Keel.Drivers.Virtio.BlockOperation.Read, r.Operation));
        Assert.Equal(2ul, rig.Engine.Statistics.Refused(BlkifRequestError.WriteToReadOnlyDevice));
    }

    [Fact]
    public void A_read_only_disk_makes_its_extent_read_only()
    {
        using var grants = new TestGrants();
        var disk = new MemoryDisk(grants, 100) { ReadOnlyDisk = true };
        Assert.True(new VbdExtent(disk, 0, 100, readOnly: false).ReadOnly);
    }

    [Fact]
    public void An_extent_that_does_not_lie_on_its_disk_is_refused_at_construction()
    {
        using var grants = new TestGrants();
        var disk = new MemoryDisk(grants, 100);
        Assert.False(new VbdExtent(disk, 50, 51, false).IsOnDisk);
        Assert.False(new VbdExtent(disk, ulong.MaxValue, 2, false).IsOnDisk);
        Assert.True(new VbdExtent(disk, 50, 50, false).IsOnDisk);
    }

    [Fact]
    public void A_request_reaching_the_last_sector_of_the_vbd_is_served()
    {
        using var rig = new Rig();
        rig.Push(Rig.Request(BlkifOperation.Read, 1, rig.Options.ExtentSectors - 8, rig.Page(1)));
        rig.Run();

        Assert.Equal((short)BlkifStatus.Okay, Assert.Single(rig.Responses()).Status);
        Assert.Equal(rig.Options.ExtentStart + rig.Options.ExtentSectors - 8, Assert.Single(rig.Disk.Received).Sector);
    }

    [Fact]
    public void A_duplicate_id_in_flight_is_refused_and_the_first_request_is_still_served()
    {
        using var rig = new Rig();
        rig.Disk.Hold = true;
        rig.Push(Rig.Request(BlkifOperation.Read, 5, 0, rig.Page(1)));
        rig.Step();
        rig.Push(Rig.Request(BlkifOperation.Read, 5, 100, rig.Page(2)));
        rig.Step();

        BlkifResponse refused = Assert.Single(rig.Responses());
        Assert.Equal((5ul, (short)BlkifStatus.Error), (refused.Id, refused.Status));
        rig.Disk.Hold = false;
        rig.Run();
        Assert.Equal((short)BlkifStatus.Okay, Assert.Single(rig.Responses()).Status);
        Assert.Single(rig.Disk.Received);

        // Once answered, the id is free for the front-end to use again.
        rig.Push(Rig.Request(BlkifOperation.Read, 5, 100, rig.Page(2)));
        rig.Run();
        Assert.Equal((short)BlkifStatus.Okay, Assert.Single(rig.Responses()).Status);
        Assert.Equal(1ul, rig.Engine.Statistics.DuplicateIds);
    }

    [Fact]
    public void A_bad_descriptor_in_an_indirect_page_is_refused_and_the_page_unmapped()
    {
        using var rig = new Rig();
        BlkifSegment[] segments = rig.Pages(1, 20);
        segments[13] = new BlkifSegment(14, 0, 9);
        rig.Push(rig.Indirect(BlkifOperation.Read, 6, 0, 900, segments));
        rig.Run();

        Assert.Equal((short)BlkifStatus.Error, Assert.Single(rig.Responses()).Status);
        Assert.Equal(0, rig.Grants.Live);
        Assert.Equal(0, rig.Grants.DeviceMaps);
        Assert.Equal(1ul, rig.Engine.Statistics.Refused(BlkifRequestError.SegmentBeyondPage));
    }

    [Fact]
    public void Indirect_descriptors_that_run_past_the_end_of_the_vbd_are_refused()
    {
        using var rig = new Rig();
        rig.Push(rig.Indirect(BlkifOperation.Read, 6, rig.Options.ExtentSectors - 16, 900, rig.Pages(1, 3)));
        rig.Run();

        Assert.Equal((short)BlkifStatus.Error, Assert.Single(rig.Responses()).Status);
        Assert.Empty(rig.Disk.Received);
    }
}

using System.Linq;
using Keel.Blkback.Core;
using Keel.Blkback.Tests.Support;
using Keel.Drivers.Virtio;
using Keel.Ringlib.Protocols;
using Xunit;

namespace Keel.Blkback.Tests;

/// <summary>What reaches the disk for well-formed requests, and what the front-end gets back.</summary>
public sealed class DataPathTests
{
    [Fact]
    public void A_write_lands_at_the_extent_start_plus_the_sector_and_reads_back()
    {
        using var rig = new Rig();
        BlkifSegment page = rig.Page(10);
        rig.Grants.Page(10).Fill(0xA5);
        rig.Push(Rig.Request(BlkifOperation.Write, 1, 16, page));
        rig.Run();

        Assert.Equal(0xA5, rig.Disk.Sector(rig.Options.ExtentStart + 16)[0]);
        Assert.Equal(0, rig.Disk.Sector(16)[0]);

        BlkifSegment target = rig.Page(11);
        rig.Push(Rig.Request(BlkifOperation.Read, 2, 16, target));
        rig.Run();
        Assert.Equal(rig.Grants.Page(10).ToArray(), rig.Grants.Page(11).ToArray());
        var responses = rig.Responses();
        Assert.Equal(new ulong[] { 1, 2 }, responses.Select(r => r.Id));
        Assert.All(responses, r => Assert.Equal((short)BlkifStatus.Okay, r.Status));
        Assert.Equal(new byte[] { 1, 0 }, responses.Select(r => r.Operation));
        Assert.Equal(0, rig.Grants.Live);
    }

    [Fact]
    public void Partial_pages_transfer_only_the_sectors_named()
    {
        using var rig = new Rig();
        rig.Page(5);
        rig.Grants.Page(5).Fill(0x11);
        rig.Push(Rig.Request(BlkifOperation.Write, 1, 0, new BlkifSegment(5, 2, 3)));
        rig.Run();

        DiskRequest request = Assert.Single(rig.Disk.Received);
        Assert.Equal(rig.Options.ExtentStart, request.Sector);
        Assert.Equal(1024u, Assert.Single(request.Segments).Length);
        Assert.Equal(0x11, rig.Disk.Sector(rig.Options.ExtentStart)[0]);
        Assert.Equal(0, rig.Disk.Sector(rig.Options.ExtentStart + 2)[0]);
        Assert.Equal(1024ul, rig.Engine.Statistics.BytesWritten);
    }

    [Fact]
    public void Two_adjacent_reads_become_one_device_request_and_two_responses()
    {
        using var rig = new Rig();
        rig.Push(
            Rig.Request(BlkifOperation.Read, 1, 100, rig.Pages(1, 2)),
            Rig.Request(BlkifOperation.Read, 2, 116, rig.Pages(3, 3)));
        rig.Run();

        DiskRequest request = Assert.Single(rig.Disk.Received);
        Assert.Equal(rig.Options.ExtentStart + 100, request.Sector);
        Assert.Equal(5, request.Segments.Length);
        Assert.Equal(40ul, request.Sectors);
        Assert.Equal(new ulong[] { 1, 2 }, rig.Responses().Select(r => r.Id).OrderBy(id => id));
        Assert.Equal(1ul, rig.Engine.Statistics.Merged);
        Assert.Equal(1, rig.Disk.Kicks);
    }

    [Fact]
    public void Twenty_adjacent_one_page_writes_become_one_device_request_of_twenty_segments_in_order()
    {
        using var rig = new Rig();
        for (uint i = 0; i < 20; i++)
        {
            BlkifSegment page = rig.Page(10 + i);
            rig.Grants.Page(10 + i).Fill((byte)(i + 1));
            rig.Push(Rig.Request(BlkifOperation.Write, i, 8 * (ulong)i, page));
        }

        rig.Run();

        // More segments and parts than a device request keeps in its small arrays: it moved to its large ones.
        DiskRequest request = Assert.Single(rig.Disk.Received);
        Assert.Equal(20, request.Segments.Length);
        for (uint i = 0; i < 20; i++)
        {
            Assert.Equal((byte)(i + 1), rig.Disk.Sector(rig.Options.ExtentStart + 8 * (ulong)i)[0]);
        }

        Assert.Equal(Enumerable.Range(0, 20).Select(i => (ulong)i), rig.Responses().Select(r => r.Id).OrderBy(id => id));
        Assert.Equal(0, rig.Grants.Live);
    }

    [Fact]
    public void Requests_that_do_not_follow_each_other_or_mix_reads_and_writes_are_not_merged()
    {
        using var rig = new Rig();
        rig.Push(
            Rig.Request(BlkifOperation.Read, 1, 100, rig.Page(1)),
            Rig.Request(BlkifOperation.Read, 2, 200, rig.Page(2)),
            Rig.Request(BlkifOperation.Write, 3, 208, rig.Page(3)));
        rig.Run();

        Assert.Equal(3, rig.Disk.Received.Count);
        Assert.Equal(0ul, rig.Engine.Statistics.Merged);
    }

    [Fact]
    public void A_merge_stops_where_the_disk_takes_no_more_segments()
    {
        using var rig = new Rig(new RigOptions { MaxSegments = 11 });
        rig.Push(
            Rig.Request(BlkifOperation.Write, 1, 0, rig.Pages(1, 8)),
            Rig.Request(BlkifOperation.Write, 2, 64, rig.Pages(20, 8)));
        rig.Run();

        Assert.Equal(new[] { 8, 8 }, rig.Disk.Received.Select(r => r.Segments.Length));
        Assert.Equal(2, rig.Responses().Count);
    }

    [Fact]
    public void A_request_of_eleven_pages_is_mapped_in_one_call_and_unmapped_in_one_call()
    {
        using var rig = new Rig();
        rig.Push(Rig.Request(BlkifOperation.Write, 3, 0, rig.Pages(1, 11)));
        rig.Run();

        Assert.Equal((short)BlkifStatus.Okay, Assert.Single(rig.Responses()).Status);
        Assert.Equal((11, 1, 1), (rig.Grants.DeviceMaps, rig.Grants.MapCalls, rig.Grants.UnmapCalls));
        Assert.Equal(0, rig.Grants.Live);
    }

    [Fact]
    public void Eight_requests_taken_in_one_pass_are_mapped_in_one_call_and_answered_together_unmapped_in_one_call()
    {
        using var rig = new Rig();
        for (uint i = 0; i < 8; i++)
        {
            rig.Push(Rig.Request(BlkifOperation.Read, 100 + i, 64 * i, rig.Page(1 + i)));
        }

        rig.Run();

        Assert.Equal(8, rig.Responses().Count(r => r.Status == (short)BlkifStatus.Okay));
        Assert.Equal((8, 1, 1), (rig.Grants.DeviceMaps, rig.Grants.MapCalls, rig.Grants.UnmapCalls));
        Assert.Equal(0, rig.Grants.Live);
    }

    [Fact]
    public void A_refused_page_in_a_batch_fails_only_its_own_request()
    {
        using var rig = new Rig();
        rig.Grants.Refused.Add(3);
        for (uint i = 0; i < 4; i++)
        {
            rig.Push(Rig.Request(BlkifOperation.Write, 200 + i, 64 * i, rig.Page(1 + i)));
        }

        rig.Run();

        var responses = rig.Responses();
        Assert.Equal((short)BlkifStatus.Error, responses.Single(r => r.Id == 202).Status);
        Assert.All(responses.Where(r => r.Id != 202), r => Assert.Equal((short)BlkifStatus.Okay, r.Status));
        Assert.Equal(3, rig.Disk.Received.Sum(r => r.Segments.Length));
        Assert.Equal(0, rig.Grants.Live);
        Assert.Equal(1ul, rig.Engine.Statistics.GrantMapFailures);
    }

    [Fact]
    public void An_indirect_read_of_64_segments_reaches_the_disk_as_one_request()
    {
        using var rig = new Rig();
        BlkifSegment[] segments = rig.Pages(100, 64);
        rig.Push(rig.Indirect(BlkifOperation.Read, 9, 0, 900, segments));
        rig.Run();

        DiskRequest request = Assert.Single(rig.Disk.Received);
        Assert.Equal(64, request.Segments.Length);
        Assert.Equal(512ul, request.Sectors);
        BlkifResponse response = Assert.Single(rig.Responses());
        Assert.Equal((9ul, (byte)BlkifOperation.Read, (short)0), (response.Id, response.Operation, response.Status));
        Assert.Equal(1ul, rig.Engine.Statistics.IndirectRequests);
        Assert.Equal(0, rig.Grants.Live);
        // The descriptor page is copied from, once, and never mapped: only the 64 data pages were.
        Assert.Equal((1, 64), (rig.Grants.Copies, rig.Grants.DeviceMaps));
    }

    [Fact]
    public void An_indirect_request_larger_than_the_disk_takes_is_split_and_answered_once()
    {
        using var rig = new Rig(new RigOptions { MaxSegments = 16 });
        BlkifSegment[] segments = rig.Pages(100, 40);
        for (int i = 0; i < 40; i++)
        {
            rig.Grants.Page(100 + (uint)i).Fill((byte)i);
        }

        rig.Push(rig.Indirect(BlkifOperation.Write, 9, 8, 900, segments));
        rig.Run();

        Assert.Equal(new[] { 16, 16, 8 }, rig.Disk.Received.Select(r => r.Segments.Length));
        Assert.Equal(new ulong[] { 0, 128, 256 }, rig.Disk.Received.Select(r => r.Sector - rig.Options.ExtentStart - 8));
        Assert.Equal(39, rig.Disk.Sector(rig.Options.ExtentStart + 8 + 39 * 8)[0]);
        Assert.Single(rig.Responses());
    }

    [Fact]
    public void A_flush_reaches_the_disk_as_a_flush()
    {
        using var rig = new Rig();
        rig.Push(Rig.Request(BlkifOperation.FlushDiskCache, 4, 0));
        rig.Run();

        Assert.Equal(BlockOperation.Flush, Assert.Single(rig.Disk.Received).Operation);
        BlkifResponse response = Assert.Single(rig.Responses());
        Assert.Equal((4ul, (byte)BlkifOperation.FlushDiskCache, (short)0), (response.Id, response.Operation, response.Status));
    }

    [Fact]
    public void A_flush_with_data_writes_first_then_flushes_then_answers()
    {
        using var rig = new Rig();
        rig.Push(Rig.Request(BlkifOperation.FlushDiskCache, 4, 8, rig.Page(1)));
        rig.Engine.ProcessRing();
        Assert.Equal(BlockOperation.Write, Assert.Single(rig.Disk.Received).Operation);
        rig.Run();

        Assert.Equal(new[] { BlockOperation.Write, BlockOperation.Flush }, rig.Disk.Received.Select(r => r.Operation));
        Assert.Single(rig.Responses());
    }

    [Theory]
    [InlineData(100, false)]
    [InlineData(8, true)]
    public void A_request_the_disk_fails_is_answered_with_an_error_and_so_is_every_request_merged_with_it(ulong second, bool merged)
    {
        using var rig = new Rig();
        rig.Disk.FailSector = s => s == rig.Options.ExtentStart + second;
        rig.Push(Rig.Request(BlkifOperation.Read, 1, 0, rig.Page(1)), Rig.Request(BlkifOperation.Read, 2, second, rig.Page(2)));
        rig.Run();

        var statuses = rig.Responses().OrderBy(r => r.Id).Select(r => (BlkifStatus)r.Status);
        Assert.Equal(new[] { merged ? BlkifStatus.Error : BlkifStatus.Okay, BlkifStatus.Error }, statuses);
        Assert.Equal(merged ? 1 : 2, rig.Disk.Received.Count);
        Assert.Equal(0, rig.Grants.Live);
    }

    [Fact]
    public void Requests_wait_in_order_while_the_disk_queue_is_full()
    {
        using var rig = new Rig(new RigOptions { QueueDepth = 2 });
        rig.Disk.Hold = true;
        for (ulong i = 0; i < 6; i++)
        {
            rig.Push(Rig.Request(BlkifOperation.Read, i, i * 100, rig.Page(10 + (uint)i)));
        }

        rig.Step();
        Assert.Equal(2, rig.Disk.Received.Count);
        rig.Disk.Hold = false;
        rig.Run();

        Assert.Equal(new ulong[] { 0, 100, 200, 300, 400, 500 }, rig.Disk.Received.Select(r => r.Sector - rig.Options.ExtentStart));
        Assert.Equal(6, rig.Responses().Count);
    }

    [Fact]
    public void Each_process_ring_call_kicks_the_disk_once_and_notifies_when_asked()
    {
        using var rig = new Rig();
        for (ulong i = 0; i < 5; i++)
        {
            rig.Push(Rig.Request(BlkifOperation.Read, i, i * 100, rig.Page(10 + (uint)i)));
        }

        rig.Engine.ProcessRing();
        Assert.Equal(1, rig.Disk.Kicks);
        rig.Engine.ProcessCompletions();
        Assert.Equal(5, rig.Responses().Count);
        Assert.Equal(1, rig.Notifier.Notifications);
    }

    [Fact]
    public void A_ring_of_eight_pages_serves_256_requests_at_once()
    {
        using var rig = new Rig(new RigOptions { PageOrder = 3, QueueDepth = 256 });
        Assert.Equal(256u, rig.RingSize);
        for (ulong i = 0; i < 256; i++)
        {
            rig.Push(Rig.Request(BlkifOperation.Read, i, i * 8 % 2048, rig.Page(10 + (uint)i)));
        }

        rig.Run();
        Assert.Equal(Enumerable.Range(0, 256).Select(i => (ulong)i), rig.Responses().Select(r => r.Id).OrderBy(id => id));
    }
}

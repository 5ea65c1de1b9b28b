using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Keel.Drivers.Tests.Model;
using Keel.Drivers.Virtio;
using Xunit;
using static Keel.Drivers.Tests.Model.BlockIo;

namespace Keel.Drivers.Tests;

public sealed class VirtioBlockTests
{
    private const uint Sector = VirtioBlockConfiguration.SectorSize;

    [Theory]
    [InlineData(ModelMachine.DefaultFeatures)]
    [InlineData(ModelMachine.DefaultFeatures & ~VirtioFeatures.IndirectDescriptors & ~VirtioFeatures.EventIndex)]
    public void Writes_then_reads_of_many_requests_in_flight_round_trip_through_the_disk(ulong features)
    {
        using var machine = new ModelMachine(features);
        VirtioBlock block = machine.Start(queueSize: 64);
        machine.Device.ServeOnNotify = false;
        // Header, two data segments and status: four descriptors each unless they travel indirect.
        int requests = block.UsesIndirectDescriptors ? block.QueueDepth : block.QueueSize / 4;
        ulong buffers = machine.Dma.AllocateBuffer(requests);
        for (int i = 0; i < requests; i++)
        {
            machine.Dma.WriteBytes(buffers + (ulong)(4096 * i), Pattern(4096, i));
            var segments = new[] { new BlockSegment(buffers + (ulong)(4096 * i), 2048), new BlockSegment(buffers + (ulong)(4096 * i) + 2048, 2048) };
            Assert.True(block.TrySubmit(BlockOperation.Write, (ulong)(8 * i), segments, (ulong)(1000 + i)));
        }

        Assert.Equal(requests, block.InFlight);
        block.Kick();
        machine.Device.Serve();
        List<BlockCompletion> written = ReapAll(block);
        Assert.Equal(Enumerable.Range(1000, requests).Select(t => (ulong)t), written.Select(c => c.Token).OrderBy(t => t));
        Assert.All(written, c => Assert.Equal(BlockStatus.Ok, c.Status));
        for (int i = 0; i < requests; i++)
        {
            Assert.Equal(Pattern(4096, i), machine.Device.Disk.Slice(4096 * i, 4096).ToArray());
        }

        ulong readBack = machine.Dma.AllocateBuffer(requests);
        for (int i = 0; i < requests; i++)
        {
            Assert.True(block.TrySubmit(BlockOperation.Read, (ulong)(8 * i), One(readBack + (ulong)(4096 * i), 4096), (ulong)i));
        }

        block.Kick();
        machine.Device.Serve();
        Assert.Equal(requests, ReapAll(block).Count(c => c.Status == BlockStatus.Ok));
        for (int i = 0; i < requests; i++)
        {
            Assert.Equal(Pattern(4096, i), machine.Dma.ReadBytes(readBack + (ulong)(4096 * i), 4096));
        }

        Assert.Empty(machine.Device.Queue.Violations);
        Assert.Equal(0, block.InFlight);
        Assert.Equal((features & VirtioFeatures.IndirectDescriptors) != 0 ? 2 * requests : 0, machine.Device.Queue.IndirectChains);
    }

    [Fact]
    public void A_batch_of_requests_takes_one_notification()
    {
        using var machine = new ModelMachine();
        VirtioBlock block = machine.Start();
        ulong buffer = machine.Dma.AllocateBuffer(1);
        for (int i = 0; i < 10; i++)
        {
            Assert.True(block.TrySubmit(BlockOperation.Read, (ulong)i, One(buffer, Sector), (ulong)i));
        }

        Assert.Equal(0, machine.Device.Notifications);
        block.Kick();
        block.Kick();
        Assert.Equal(1, machine.Device.Notifications);
        Assert.Equal(10, ReapAll(block).Count);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_device_is_not_notified_while_it_says_it_is_still_busy(bool eventIndex)
    {
        ulong features = eventIndex ? ModelMachine.DefaultFeatures : ModelMachine.DefaultFeatures & ~VirtioFeatures.EventIndex;
        using var machine = new ModelMachine(features);
        VirtioBlock block = machine.Start();
        machine.Device.ServeOnNotify = false;
        ulong buffer = machine.Dma.AllocateBuffer(1);

        ReadSector(block, buffer, 0, 1);
        Assert.Equal(1, machine.Device.Notifications);

        // The device has not yet looked at the ring (EVENT_IDX: avail_event still 0) or says it is polling
        // (VIRTQ_USED_F_NO_NOTIFY): no second notification.
        if (!eventIndex)
        {
            machine.Device.Queue.SuppressNotifications = true;
        }

        ReadSector(block, buffer, 1, 2);
        Assert.Equal(1, machine.Device.Notifications);

        Assert.Equal(2, machine.Device.Queue.TakeAvailable().Count);
        if (!eventIndex)
        {
            machine.Device.Queue.SuppressNotifications = false;
        }

        ReadSector(block, buffer, 2, 3);
        Assert.Equal(2, machine.Device.Notifications);
    }

    [Fact]
    public void An_interrupt_is_acknowledged_by_reading_the_isr_and_a_shared_line_is_not_claimed()
    {
        using var machine = new ModelMachine();
        VirtioBlock block = machine.Start();
        ulong buffer = machine.Dma.AllocateBuffer(1);
        Assert.False(block.HandleInterrupt());

        ReadSector(block, buffer, 0, 7);
        Assert.Equal(1, machine.Device.Interrupts);
        Assert.True(block.HandleInterrupt());
        Assert.Equal(0, machine.Device.Isr);
        Assert.False(block.HandleInterrupt());
        Assert.Equal(7ul, Assert.Single(ReapAll(block)).Token);

        // Reaping re-armed used_event, so the next completion interrupts again.
        ReadSector(block, buffer, 0, 8);
        Assert.Equal(2, machine.Device.Interrupts);
    }

    [Fact]
    public void A_configuration_interrupt_updates_the_capacity()
    {
        using var machine = new ModelMachine();
        VirtioBlock block = machine.Start();
        machine.Device.Resize(4096);
        Assert.True(block.HandleInterrupt());
        Assert.Equal(4096ul, block.Capacity);
    }

    [Fact]
    public void A_request_when_the_queue_is_full_is_refused_and_accepted_after_a_reap()
    {
        using var machine = new ModelMachine(ModelMachine.DefaultFeatures & ~VirtioFeatures.IndirectDescriptors);
        VirtioBlock block = machine.Start(queueSize: 8);
        machine.Device.ServeOnNotify = false;
        ulong buffer = machine.Dma.AllocateBuffer(1);

        // 8 descriptors, 3 per single-segment read: two fit.
        Assert.True(block.TrySubmit(BlockOperation.Read, 0, One(buffer, Sector), 1));
        Assert.True(block.TrySubmit(BlockOperation.Read, 1, One(buffer, Sector), 2));
        Assert.False(block.TrySubmit(BlockOperation.Read, 2, One(buffer, Sector), 3));
        Assert.Equal(2, block.InFlight);

        block.Kick();
        machine.Device.Serve();
        Assert.Equal(2, ReapAll(block).Count);
        Assert.True(block.TrySubmit(BlockOperation.Read, 2, One(buffer, Sector), 3));
    }

    [Fact]
    public void A_request_larger_than_the_free_descriptors_waits_until_descriptors_are_free()
    {
        using var machine = new ModelMachine(ModelMachine.DefaultFeatures & ~VirtioFeatures.IndirectDescriptors);
        VirtioBlock block = machine.Start(queueSize: 16, maxSegments: 12);
        machine.Device.ServeOnNotify = false;
        ulong buffer = machine.Dma.AllocateBuffer(12);
        Assert.True(block.TrySubmit(BlockOperation.Read, 0, One(buffer, Sector), 1));
        BlockSegment[] twelve = Enumerable.Range(0, 12).Select(i => new BlockSegment(buffer + (ulong)(4096 * i), 4096)).ToArray();
        Assert.False(block.TrySubmit(BlockOperation.Read, 0, twelve, 2));

        block.Kick();
        machine.Device.Serve();
        ReapAll(block);
        Assert.True(block.TrySubmit(BlockOperation.Read, 0, twelve, 2));
        block.Kick();
        machine.Device.Serve();
        Assert.Equal(BlockStatus.Ok, Assert.Single(ReapAll(block)).Status);
    }

    [Fact]
    public void With_indirect_descriptors_the_queue_holds_as_many_requests_as_descriptors()
    {
        using var machine = new ModelMachine();
        VirtioBlock block = machine.Start(queueSize: 8);
        machine.Device.ServeOnNotify = false;
        ulong buffer = machine.Dma.AllocateBuffer(1);
        for (int i = 0; i < 8; i++)
        {
            Assert.True(block.TrySubmit(BlockOperation.Read, 0, One(buffer, Sector), (ulong)i));
        }

        Assert.False(block.TrySubmit(BlockOperation.Read, 0, One(buffer, Sector), 8));
    }

    [Fact]
    public void Sixteen_one_page_requests_in_flight_keep_their_indirect_tables_on_one_page_and_a_long_one_still_gets_a_whole_table()
    {
        using var machine = new ModelMachine();
        VirtioBlock block = machine.Start(queueSize: 64);
        ulong written = machine.Dma.AllocateBuffer(16), read = machine.Dma.AllocateBuffer(16);
        machine.Dma.WriteBytes(written, Pattern(16 * 4096, 7));
        // Sixteen one-page writes in flight at once (served together), then one sixteen-page read: a chain of
        // eighteen buffers, longer than a small table holds.
        machine.Device.ServeOnNotify = false;
        Assert.All(Enumerable.Range(0, 16), i => Assert.True(block.TrySubmit(BlockOperation.Write, (ulong)(8 * i), One(written + (ulong)(4096 * i), 4096), (ulong)i)));
        block.Kick();
        machine.Device.Serve();
        Assert.Equal(16, ReapAll(block).Count(c => c.Status == BlockStatus.Ok));
        Assert.Single(machine.Device.Queue.IndirectTablePages);

        var pages = Enumerable.Range(0, 16).Select(i => new BlockSegment(read + (ulong)(4096 * i), 4096)).ToArray();
        Assert.True(block.TrySubmit(BlockOperation.Read, 0, pages, 99));
        block.Kick();
        machine.Device.Serve();
        Assert.Equal(BlockStatus.Ok, Assert.Single(ReapAll(block)).Status);
        Assert.Equal(Pattern(16 * 4096, 7), machine.Dma.ReadBytes(read, 16 * 4096));
        Assert.Empty(machine.Device.Queue.Violations);
    }

    [Fact]
    public void A_flush_reaches_a_device_with_a_write_cache_and_completes_at_once_without_one()
    {
        using var machine = new ModelMachine();
        VirtioBlock block = machine.Start();
        Assert.True(block.TrySubmit(BlockOperation.Flush, 99, ReadOnlySpan<BlockSegment>.Empty, 5));
        block.Kick();
        Assert.Equal(new BlockCompletion(5, BlockStatus.Ok), Assert.Single(ReapAll(block)));
        ModelRequest flush = Assert.Single(machine.Device.Requests);
        Assert.Equal((4u, 0ul, 0), (flush.Type, flush.Sector, flush.Segments));

        using var writeThrough = new ModelMachine(ModelMachine.DefaultFeatures & ~VirtioBlockConfiguration.FeatureFlush);
        VirtioBlock plain = writeThrough.Start();
        Assert.True(plain.TrySubmit(BlockOperation.Flush, 0, ReadOnlySpan<BlockSegment>.Empty, 6));
        plain.Kick();
        Assert.Equal(new BlockCompletion(6, BlockStatus.Ok), Assert.Single(ReapAll(plain)));
        Assert.Empty(writeThrough.Device.Requests);
    }

    [Fact]
    public void A_read_only_device_fails_writes_and_still_serves_reads()
    {
        using var machine = new ModelMachine(ModelMachine.DefaultFeatures | VirtioBlockConfiguration.FeatureReadOnly);
        VirtioBlock block = machine.Start();
        Assert.True(block.IsReadOnly);
        ulong buffer = machine.Dma.AllocateBuffer(1);
        machine.Dma.WriteBytes(buffer, Pattern(4096, 1));
        block.TrySubmit(BlockOperation.Write, 0, One(buffer, 4096), 1);
        block.TrySubmit(BlockOperation.Read, 8, One(buffer, 4096), 2);
        block.Kick();
        List<BlockCompletion> done = ReapAll(block);
        Assert.Contains(new BlockCompletion(1, BlockStatus.IoError), done);
        Assert.Contains(new BlockCompletion(2, BlockStatus.Ok), done);
        Assert.All(machine.Device.Disk.Slice(0, 4096).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void A_write_the_medium_refuses_completes_with_an_io_error()
    {
        using var machine = new ModelMachine();
        VirtioBlock block = machine.Start();
        machine.Device.WriteProtected = true;
        ulong buffer = machine.Dma.AllocateBuffer(1);
        block.TrySubmit(BlockOperation.Write, 0, One(buffer, Sector), 1);
        block.Kick();
        Assert.Equal(new BlockCompletion(1, BlockStatus.IoError), Assert.Single(ReapAll(block)));
    }

    [Fact]
    public void Get_id_reads_the_devices_serial_number()
    {
        using var machine = new ModelMachine();
        VirtioBlock block = machine.Start();
        ulong buffer = machine.Dma.AllocateBuffer(1);
        Assert.True(block.TrySubmit(BlockOperation.GetId, 0, One(buffer, VirtioBlockConfiguration.IdBytes), 3));
        block.Kick();
        Assert.Equal(new BlockCompletion(3, BlockStatus.Ok), Assert.Single(ReapAll(block)));
        Assert.Equal(ModelVirtioBlock.Serial, Encoding.ASCII.GetString(machine.Dma.ReadBytes(buffer, 20)).TrimEnd('\0'));
    }

    [Fact]
    public void Malformed_requests_complete_with_an_error_without_reaching_the_device()
    {
        using var machine = new ModelMachine(sectors: 16);
        VirtioBlock block = machine.Start(maxSegments: 4);
        ulong buffer = machine.Dma.AllocateBuffer(8);
        BlockSegment[] five = Enumerable.Range(0, 5).Select(i => new BlockSegment(buffer + (ulong)(512 * i), 512)).ToArray();
        var cases = new (BlockOperation Operation, ulong Sector, BlockSegment[] Segments, BlockStatus Expected)[]
        {
            (BlockOperation.Read, 0, One(buffer, 100), BlockStatus.IoError),            // not whole sectors
            (BlockOperation.Read, 15, One(buffer, 1024), BlockStatus.IoError),          // past the capacity
            (BlockOperation.Write, ulong.MaxValue, One(buffer, 512), BlockStatus.IoError),
            (BlockOperation.Read, 0, Array.Empty<BlockSegment>(), BlockStatus.IoError), // no data
            (BlockOperation.Read, 0, five, BlockStatus.IoError),                        // more than MaxSegments
            (BlockOperation.Read, 0, One(buffer, 0), BlockStatus.IoError),              // an empty segment
            (BlockOperation.Read, 0, One(buffer, 1u << 17), BlockStatus.IoError),       // above size_max
            (BlockOperation.Flush, 0, One(buffer, 512), BlockStatus.IoError),           // a flush with data
            (BlockOperation.GetId, 0, One(buffer, 512), BlockStatus.IoError),           // not 20 bytes
            ((BlockOperation)13, 0, One(buffer, 512), BlockStatus.Unsupported),         // a type this driver does not send
        };
        for (int i = 0; i < cases.Length; i++)
        {
            Assert.True(block.TrySubmit(cases[i].Operation, cases[i].Sector, cases[i].Segments, (ulong)i));
        }

        block.Kick();
        List<BlockCompletion> done = ReapAll(block);
        Assert.Equal(cases.Select((c, i) => new BlockCompletion((ulong)i, c.Expected)), done);
        Assert.Empty(machine.Device.Requests);
        Assert.Equal(0, machine.Device.Notifications);
    }

    [Fact]
    public void A_device_returning_a_bad_used_id_is_survived_and_the_entry_ignored()
    {
        using var machine = new ModelMachine();
        VirtioBlock block = machine.Start(queueSize: 8);
        machine.Device.ServeOnNotify = false;
        ulong buffer = machine.Dma.AllocateBuffer(1);
        ReadSector(block, buffer, 0, 1);
        List<ModelChain> chains = machine.Device.Queue.TakeAvailable();

        machine.Device.Queue.PushUsed(uint.MaxValue, 1);        // out of range
        machine.Device.Queue.PushUsed(8, 1);                    // one past the last descriptor
        machine.Device.Queue.PushUsed((uint)chains[0].Head + 1, 1);   // in range, not in flight
        Assert.Empty(ReapAll(block));
        Assert.Equal(3, block.IgnoredCompletions);

        machine.Device.Finish(chains[0]);
        machine.Device.Queue.PushUsed(chains[0].Head, 1);       // the same chain twice
        Assert.Equal(new BlockCompletion(1, BlockStatus.Ok), Assert.Single(ReapAll(block)));
        Assert.Equal(4, block.IgnoredCompletions);
        Assert.Equal(0, block.InFlight);

        ReadSector(block, buffer, 0, 2);
        machine.Device.Serve();
        Assert.Equal(new BlockCompletion(2, BlockStatus.Ok), Assert.Single(ReapAll(block)));
    }

    [Fact]
    public void A_completion_whose_status_byte_the_device_never_wrote_is_an_io_error()
    {
        using var machine = new ModelMachine();
        VirtioBlock block = machine.Start();
        machine.Device.ForgetStatus = true;
        ulong buffer = machine.Dma.AllocateBuffer(1);
        ReadSector(block, buffer, 0, 1);
        Assert.Equal(new BlockCompletion(1, BlockStatus.IoError), Assert.Single(ReapAll(block)));
    }
}

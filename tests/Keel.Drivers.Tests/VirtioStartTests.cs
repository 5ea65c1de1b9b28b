using Keel.Drivers.Pci;
using Keel.Drivers.Tests.Model;
using Keel.Drivers.Virtio;
using Xunit;

namespace Keel.Drivers.Tests;

public sealed class VirtioStartTests
{
    [Fact]
    public void The_transport_maps_the_four_structures_from_the_memory_bar_and_passes_over_the_io_one()
    {
        using var machine = new ModelMachine();
        VirtioPciTransport transport = machine.OpenTransport();
        Assert.Equal(VirtioPciIds.TypeBlock, transport.DeviceType);
        Assert.Equal(
            new[] { (ModelVirtioBlock.BarAddress, 0x1000ul), (ModelVirtioBlock.BarAddress + 0x3000, 0x1000ul), (ModelVirtioBlock.BarAddress + 0x1000, 0x1000ul), (ModelVirtioBlock.BarAddress + 0x2000, 0x3Cul) },
            machine.Mmio.Mapped.ToArray());
        ushort command = machine.Device.Function.Command;
        Assert.Equal(PciHeader.CommandMemorySpace | PciHeader.CommandBusMaster, command & (PciHeader.CommandMemorySpace | PciHeader.CommandBusMaster | PciHeader.CommandInterruptDisable));
    }

    [Fact]
    public void The_transport_needs_no_bar_writes_and_fails_cleanly_when_mapping_is_refused()
    {
        using var machine = new ModelMachine();
        machine.Device.Function.RefuseBarWrites = true;
        machine.OpenTransport();

        machine.Mmio.RefuseAll = true;
        Assert.False(VirtioPciTransport.TryOpen(machine.Bus, machine.FindDevice(), machine.Mmio, out _, out VirtioFailure failure));
        Assert.Equal(VirtioFailure.MappingRefused, failure);
    }

    [Fact]
    public void A_device_without_a_usable_common_configuration_is_refused()
    {
        using var machine = new ModelMachine();
        machine.Device.Function.SetBar(ModelVirtioBlock.Bar, 0, ModelVirtioBlock.BarSize, wide: true);
        Assert.False(VirtioPciTransport.TryOpen(machine.Bus, machine.FindDevice(), machine.Mmio, out _, out VirtioFailure failure));
        Assert.Equal(VirtioFailure.CapabilityMissing, failure);
    }

    [Fact]
    public void Modern_and_transitional_ids_give_the_virtio_device_type_and_others_are_not_virtio()
    {
        var bus = new ModelPciBus();
        var transitional = new ModelPciFunction(0x1AF4, 0x1001, 0x01, 0x00);
        transitional.Set16(PciHeader.SubsystemId, 2);
        bus.Add(ModelPciBus.At(0, 1, 0), transitional);
        bus.Add(ModelPciBus.At(0, 2, 0), new ModelPciFunction(0x1AF4, 0x1041, 0x02, 0x00));
        bus.Add(ModelPciBus.At(0, 3, 0), new ModelPciFunction(0x1AF4, 0x1110, 0x05, 0x00));
        bus.Add(ModelPciBus.At(0, 4, 0), new ModelPciFunction(0x8086, 0x1042, 0x01, 0x00));
        ushort[] types = new ushort[4];
        bool[] virtio = new bool[4];
        for (int device = 1; device <= 4; device++)
        {
            PciFunction.TryRead(bus, ModelPciBus.At(0, device, 0), out PciFunction function);
            virtio[device - 1] = VirtioPciIds.TryGetDeviceType(function, out types[device - 1]);
        }

        Assert.Equal(new[] { true, true, false, false }, virtio);
        Assert.Equal((ushort)2, types[0]);
        Assert.Equal((ushort)1, types[1]);
    }

    [Fact]
    public void Start_follows_the_initialisation_sequence_and_leaves_the_device_on_intx()
    {
        using var machine = new ModelMachine();
        VirtioBlock block = machine.Start();
        Assert.Equal(
            new byte[] { 0, VirtioStatus.Acknowledge, VirtioStatus.Acknowledge | VirtioStatus.Driver, VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk, VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk | VirtioStatus.DriverOk },
            machine.Device.StatusWrites.ToArray());
        Assert.Equal(ModelMachine.DefaultFeatures, machine.Device.AcceptedFeatures);
        Assert.Equal(ModelMachine.DefaultFeatures, block.Features);
        Assert.Equal(VirtioCommonConfiguration.NoVector, machine.Device.ConfigMsixVector);
        Assert.Equal(VirtioCommonConfiguration.NoVector, machine.Device.QueueMsixVector);
        Assert.Equal(2048ul, block.Capacity);
        Assert.Equal(4096u, block.BlockSize);
        Assert.Equal(1u << 16, block.MaxSegmentSize);
        Assert.True(block.UsesIndirectDescriptors);
        Assert.Equal((ushort)64, block.QueueSize);
        Assert.Equal(64, block.QueueDepth);
        Assert.Equal(16, block.MaxSegments);
    }

    [Fact]
    public void The_driver_accepts_only_features_it_knows_and_the_device_offers()
    {
        ulong offered = VirtioFeatures.Version1 | VirtioBlockConfiguration.FeatureReadOnly | (1UL << 12) | (1UL << 34);
        using var machine = new ModelMachine(offered);
        VirtioBlock block = machine.Start();
        Assert.Equal(VirtioFeatures.Version1 | VirtioBlockConfiguration.FeatureReadOnly, block.Features);
        Assert.True(block.IsReadOnly);
        Assert.False(block.HasWriteCache);
        Assert.False(block.UsesIndirectDescriptors);
        Assert.Equal(512u, block.BlockSize);
        Assert.Equal(32, block.QueueDepth);
    }

    [Fact]
    public void A_device_that_clears_features_ok_is_marked_failed()
    {
        using var machine = new ModelMachine();
        machine.Device.RefuseFeatures = true;
        Assert.Equal(VirtioFailure.FeaturesRefused, machine.TryStart(out VirtioBlock block));
        Assert.Null(block);
        Assert.NotEqual(0, machine.Device.Status & VirtioStatus.Failed);
        Assert.Equal(0, machine.Device.Status & VirtioStatus.DriverOk);
        Assert.Null(machine.Device.Queue);
    }

    [Fact]
    public void A_legacy_only_device_without_version_1_is_refused()
    {
        using var machine = new ModelMachine(ModelMachine.DefaultFeatures & ~VirtioFeatures.Version1);
        Assert.Equal(VirtioFailure.Version1NotOffered, machine.TryStart(out _));
        Assert.NotEqual(0, machine.Device.Status & VirtioStatus.Failed);
    }

    [Fact]
    public void The_driver_waits_for_a_slow_reset_to_finish()
    {
        using var machine = new ModelMachine();
        machine.Device.ResetLatency = 100;
        machine.Start();
        Assert.NotEqual(0, machine.Device.Status & VirtioStatus.DriverOk);
    }

    [Fact]
    public void The_configuration_is_read_again_while_its_generation_changes_and_refused_when_it_never_settles()
    {
        using var machine = new ModelMachine();
        machine.Device.GenerationChurn = 5;
        Assert.Equal(2048ul, machine.Start().Capacity);

        using var unsettled = new ModelMachine();
        unsettled.Device.GenerationChurn = 1000;
        Assert.Equal(VirtioFailure.DeviceConfigurationUnreadable, unsettled.TryStart(out _));
    }

    [Fact]
    public void The_queue_size_is_the_largest_power_of_two_the_device_and_the_caller_allow()
    {
        using var machine = new ModelMachine();
        machine.Device.QueueMaximum = 100;
        VirtioBlock block = machine.Start(queueSize: 256);
        Assert.Equal((ushort)64, block.QueueSize);

        using var small = new ModelMachine();
        small.Device.SegMax = 3;
        VirtioBlock limited = small.Start(queueSize: 8, maxSegments: 32);
        Assert.Equal((ushort)8, limited.QueueSize);
        Assert.Equal(3, limited.MaxSegments);

        using var tiny = new ModelMachine();
        tiny.Device.QueueMaximum = 2;
        Assert.Equal(VirtioFailure.QueueUnavailable, tiny.TryStart(out _));
    }

    [Fact]
    public void Running_out_of_dma_memory_fails_the_start()
    {
        using var machine = new ModelMachine();
        machine.Dma.Remaining = 3;
        Assert.Equal(VirtioFailure.OutOfDmaMemory, machine.TryStart(out _));
        Assert.NotEqual(0, machine.Device.Status & VirtioStatus.Failed);
    }

    [Fact]
    public void A_transport_of_another_device_type_does_not_start_as_a_block_device()
    {
        using var machine = new ModelMachine();
        machine.Device.Function.Set16(PciHeader.DeviceId, 0x1041);
        PciFunction.TryRead(machine.Bus, ModelMachine.DeviceAddress, out PciFunction network);
        Assert.True(VirtioPciTransport.TryOpen(machine.Bus, network, machine.Mmio, out VirtioPciTransport transport, out _));
        Assert.False(VirtioBlock.TryStart(transport, machine.Dma, 64, 16, out _, out VirtioFailure failure));
        Assert.Equal(VirtioFailure.WrongDevice, failure);
    }
}

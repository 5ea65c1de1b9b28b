using System;
using Keel.Drivers.Pci;
using Keel.Drivers.Tests.Model;
using Xunit;

namespace Keel.Drivers.Tests;

public sealed class PciEnumerationTests
{
    private static PciFunction[] Enumerate(ModelPciBus bus, int room = 64)
    {
        var found = new PciFunction[room];
        int count = PciEnumerator.Enumerate(bus, 0, found);
        return found.AsSpan(0, count).ToArray();
    }

    [Fact]
    public void Enumeration_finds_the_virtio_block_device_with_its_header_fields()
    {
        using var machine = new ModelMachine();
        PciFunction[] found = Enumerate(machine.Bus);
        PciFunction device = Assert.Single(found);
        Assert.Equal(ModelMachine.DeviceAddress, device.Address);
        Assert.Equal((ushort)0x1AF4, device.VendorId);
        Assert.Equal((ushort)0x1042, device.DeviceId);
        Assert.Equal((byte)0x01, device.ClassCode);
        Assert.Equal((ushort)0x0002, device.SubsystemId);
        Assert.Equal((byte)11, device.InterruptLine);
        Assert.Equal((byte)1, device.InterruptPin);
        Assert.False(device.IsMultiFunction);
    }

    [Fact]
    public void Absent_functions_and_functions_that_refuse_access_are_skipped()
    {
        var bus = new ModelPciBus();
        bus.Add(ModelPciBus.At(0, 1, 0), new ModelPciFunction(0x8086, 0x1237, 0x06, 0x00));
        bus.Add(ModelPciBus.At(0, 2, 0), new ModelPciFunction(0x1234, 0x1111, 0x03, 0x00));
        bus.Refuse(ModelPciBus.At(0, 2, 0));
        PciFunction[] found = Enumerate(bus);
        Assert.Equal(ModelPciBus.At(0, 1, 0), Assert.Single(found).Address);
    }

    [Fact]
    public void A_refused_function_zero_does_not_hide_a_sibling_function_given_to_the_domain()
    {
        var bus = new ModelPciBus();
        bus.Add(ModelPciBus.At(0, 4, 0), new ModelPciFunction(0x8086, 0x2922, 0x01, 0x06, PciHeader.MultiFunction));
        bus.Add(ModelPciBus.At(0, 4, 2), new ModelPciFunction(0x8086, 0x2930, 0x0C, 0x05));
        bus.Refuse(ModelPciBus.At(0, 4, 0));
        Assert.Equal(ModelPciBus.At(0, 4, 2), Assert.Single(Enumerate(bus)).Address);
    }

    [Fact]
    public void Functions_other_than_zero_are_probed_only_on_a_multi_function_device()
    {
        var bus = new ModelPciBus();
        bus.Add(ModelPciBus.At(0, 5, 0), new ModelPciFunction(0x1234, 1, 0x02, 0x00));
        bus.Add(ModelPciBus.At(0, 5, 1), new ModelPciFunction(0x1234, 2, 0x02, 0x00));
        bus.Add(ModelPciBus.At(0, 6, 0), new ModelPciFunction(0x1234, 3, 0x02, 0x00, PciHeader.MultiFunction));
        bus.Add(ModelPciBus.At(0, 6, 7), new ModelPciFunction(0x1234, 4, 0x02, 0x00));
        PciFunction[] found = Enumerate(bus);
        Assert.Equal(new[] { (ushort)1, (ushort)3, (ushort)4 }, Array.ConvertAll(found, f => f.DeviceId));
    }

    [Fact]
    public void Buses_behind_bridges_are_enumerated_and_a_bridge_loop_visits_each_bus_once()
    {
        var bus = new ModelPciBus();
        var bridge = new ModelPciFunction(0x8086, 0x244E, 0x06, 0x04, PciHeader.TypeBridge);
        bridge.Set8(PciHeader.SecondaryBus, 1);
        var back = new ModelPciFunction(0x8086, 0x244E, 0x06, 0x04, PciHeader.TypeBridge);
        back.Set8(PciHeader.SecondaryBus, 0);   // names bus 0 again: a loop
        var again = new ModelPciFunction(0x8086, 0x244E, 0x06, 0x04, PciHeader.TypeBridge);
        again.Set8(PciHeader.SecondaryBus, 1);  // and bus 1 again
        bus.Add(ModelPciBus.At(0, 30, 0), bridge);
        bus.Add(ModelPciBus.At(1, 0, 0), back);
        bus.Add(ModelPciBus.At(1, 1, 0), again);
        bus.Add(ModelPciBus.At(1, 2, 0), new ModelPciFunction(0x1AF4, 0x1041, 0x02, 0x00));
        PciFunction[] found = Enumerate(bus);
        Assert.Equal(4, found.Length);
        Assert.Contains(found, f => f.Address.Equals(ModelPciBus.At(1, 2, 0)) && f.DeviceId == 0x1041);
        Assert.True(found[0].IsBridge);
    }

    [Fact]
    public void Enumeration_stops_when_the_callers_span_is_full()
    {
        var bus = new ModelPciBus();
        for (int device = 0; device < 8; device++)
        {
            bus.Add(ModelPciBus.At(0, device, 0), new ModelPciFunction(0x1234, (ushort)device, 0x02, 0x00));
        }

        Assert.Equal(3, Enumerate(bus, room: 3).Length);
    }

    [Fact]
    public void The_capability_walk_lists_each_entry_and_stops_at_a_loop()
    {
        using var machine = new ModelMachine();
        ModelPciFunction function = machine.Device.Function;
        PciCapabilityCursor cursor = PciCapabilityCursor.Start(machine.Bus, ModelMachine.DeviceAddress);
        int count = 0;
        int last = 0;
        while (cursor.TryNext(out PciCapability capability))
        {
            Assert.Equal(PciCapability.VendorSpecific, capability.Id);
            last = capability.Offset;
            count++;
        }

        Assert.Equal(6, count);
        Assert.False(cursor.Malformed);

        function.Set8(last + 1, 0x40);   // the last entry points back at the first
        cursor = PciCapabilityCursor.Start(machine.Bus, ModelMachine.DeviceAddress);
        count = 0;
        while (cursor.TryNext(out _))
        {
            count++;
        }

        Assert.Equal(6, count);
        Assert.True(cursor.Malformed);
    }

    [Fact]
    public void A_capability_pointing_at_itself_or_into_the_header_ends_the_walk()
    {
        var function = new ModelPciFunction(0x1234, 1, 0x02, 0x00);
        int at = function.AddCapability(0x05, new byte[6]);
        function.Set8(at + 1, (byte)at);
        var bus = new ModelPciBus();
        bus.Add(ModelPciBus.At(0, 1, 0), function);
        PciCapabilityCursor cursor = PciCapabilityCursor.Start(bus, ModelPciBus.At(0, 1, 0));
        Assert.True(cursor.TryNext(out PciCapability only));
        Assert.Equal(0x05, only.Id);
        Assert.False(cursor.TryNext(out _));
        Assert.True(cursor.Malformed);

        function.Set8(at + 1, 0x10);
        cursor = PciCapabilityCursor.Start(bus, ModelPciBus.At(0, 1, 0));
        Assert.True(cursor.TryNext(out _));
        Assert.False(cursor.TryNext(out _));
        Assert.True(cursor.Malformed);
    }

    [Fact]
    public void A_function_without_the_capabilities_status_bit_has_no_list()
    {
        var function = new ModelPciFunction(0x1234, 1, 0x02, 0x00);
        function.Set8(PciHeader.CapabilitiesPointer, 0x40);
        var bus = new ModelPciBus();
        bus.Add(ModelPciBus.At(0, 1, 0), function);
        Assert.False(PciCapabilityCursor.TryFind(bus, ModelPciBus.At(0, 1, 0), 0x05, out _));
    }

    [Fact]
    public void Bars_decode_as_64_bit_memory_32_bit_memory_and_io_without_any_write()
    {
        var function = new ModelPciFunction(0x1234, 1, 0x02, 0x00) { RefuseBarWrites = true };
        function.SetBar(0, 0xC040, 0x40, io: true);
        function.SetBar(1, 0xFEB0_0000, 0x1000);
        function.SetBar(2, 0x0000_0080_0000_0000, 0x4000, wide: true, prefetchable: true);
        var bus = new ModelPciBus();
        bus.Add(ModelPciBus.At(0, 1, 0), function);
        Assert.True(PciFunction.TryRead(bus, ModelPciBus.At(0, 1, 0), out PciFunction header));

        Assert.True(PciBar.TryRead(bus, header, 0, out PciBar io));
        Assert.Equal((PciBarKind.Io, 0xC040ul, 0ul), (io.Kind, io.Address, io.Size));
        Assert.True(PciBar.TryRead(bus, header, 1, out PciBar memory));
        Assert.Equal((PciBarKind.Memory32, 0xFEB0_0000ul, false), (memory.Kind, memory.Address, memory.Prefetchable));
        Assert.True(PciBar.TryRead(bus, header, 2, out PciBar wide));
        Assert.Equal((PciBarKind.Memory64, 0x0000_0080_0000_0000ul, true), (wide.Kind, wide.Address, wide.Prefetchable));
        Assert.False(PciBar.TryRead(bus, header, 6, out _));
        Assert.False(PciBar.TrySize(bus, header, wide, out _));
        Assert.Equal(0x0000_0080_0000_0000ul, function.BarAddress(2, wide: true));
    }

    [Fact]
    public void Sizing_a_bar_probes_with_all_ones_and_restores_the_bar_and_the_command_register()
    {
        var function = new ModelPciFunction(0x1234, 1, 0x02, 0x00);
        function.SetBar(0, 0xC040, 0x40, io: true);
        function.SetBar(1, 0xFEB0_0000, 0x1000);
        function.SetBar(2, 0x0000_0080_0000_0000, 0x2_0000_0000, wide: true);
        function.Set16(PciHeader.Command, PciHeader.CommandMemorySpace | PciHeader.CommandIoSpace);
        var bus = new ModelPciBus();
        bus.Add(ModelPciBus.At(0, 1, 0), function);
        PciFunction.TryRead(bus, ModelPciBus.At(0, 1, 0), out PciFunction header);

        ulong[] sizes = new ulong[3];
        for (int index = 0; index < 3; index++)
        {
            Assert.True(PciBar.TryRead(bus, header, index, out PciBar bar));
            Assert.True(PciBar.TrySize(bus, header, bar, out PciBar sized));
            Assert.Equal(bar.Address, sized.Address);
            sizes[index] = sized.Size;
        }

        Assert.Equal(new ulong[] { 0x40, 0x1000, 0x2_0000_0000 }, sizes);
        Assert.Equal(0x0000_0080_0000_0000ul, function.BarAddress(2, wide: true));
        Assert.Equal(PciHeader.CommandMemorySpace | PciHeader.CommandIoSpace, function.Command);
    }

    [Fact]
    public void The_command_register_enables_memory_and_bus_mastering_and_toggles_intx()
    {
        var function = new ModelPciFunction(0x1234, 1, 0x02, 0x00);
        function.Set16(PciHeader.Command, PciHeader.CommandInterruptDisable);
        var bus = new ModelPciBus();
        PciAddress address = ModelPciBus.At(0, 1, 0);
        bus.Add(address, function);

        Assert.True(PciCommand.TryEnableMemoryAndBusMaster(bus, address));
        Assert.True(PciCommand.TrySetInterruptDisable(bus, address, false));
        Assert.Equal(PciHeader.CommandMemorySpace | PciHeader.CommandBusMaster, function.Command);
        Assert.True(PciCommand.TrySetInterruptDisable(bus, address, true));
        Assert.Equal(PciHeader.CommandMemorySpace | PciHeader.CommandBusMaster | PciHeader.CommandInterruptDisable, function.Command);

        bus.Refuse(address);
        Assert.False(PciCommand.TryEnableMemoryAndBusMaster(bus, address));
    }
}

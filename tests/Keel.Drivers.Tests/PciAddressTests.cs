using Keel.Drivers.Pci;
using Xunit;

namespace Keel.Drivers.Tests;

public sealed class PciAddressTests
{
    [Fact]
    public void An_address_encodes_as_Xens_machine_sbdf_and_back()
    {
        Assert.True(PciAddress.TryCreate(0x0001, 0x3A, 0x1F, 7, out PciAddress address));
        Assert.Equal(0x0001_3AFFu, address.MachineSbdf);
        PciAddress decoded = PciAddress.FromMachineSbdf(0x0001_3AFF);
        Assert.Equal(address, decoded);
        Assert.Equal((ushort)1, decoded.Segment);
        Assert.Equal((byte)0x3A, decoded.Bus);
        Assert.Equal((byte)0x1F, decoded.Device);
        Assert.Equal((byte)7, decoded.Function);
    }

    [Fact]
    public void Device_and_function_numbers_out_of_range_are_refused()
    {
        Assert.False(PciAddress.TryCreate(0, 0, 32, 0, out _));
        Assert.False(PciAddress.TryCreate(0, 0, 0, 8, out _));
        Assert.False(PciAddress.TryCreate(0, 0, -1, 0, out _));
    }

    [Fact]
    public void An_address_prints_as_bus_device_function_with_the_segment_only_when_not_zero()
    {
        PciAddress.TryCreate(0, 0, 3, 0, out PciAddress first);
        PciAddress.TryCreate(0x12, 0xAB, 0x1C, 5, out PciAddress other);
        Assert.Equal("00:03.0", first.ToString());
        Assert.Equal("0012:ab:1c.5", other.ToString());
        Assert.False(other.TryFormat(new char[11], out _));
    }
}

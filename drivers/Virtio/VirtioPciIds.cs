using Keel.Drivers.Pci;

namespace Keel.Drivers.Virtio;

/// <summary>
/// How a virtio device shows itself on PCI (virtio 1.2 4.1.2): vendor 0x1AF4 and a device ID from 0x1000 to
/// 0x107F. A modern device's ID is 0x1040 plus its virtio device type; a transitional device uses
/// 0x1000-0x103F and carries the virtio device type in its Subsystem ID. The Revision ID is not a
/// criterion (4.1.2.2: drivers match any revision).
/// </summary>
public static class VirtioPciIds
{
    /// <summary>The PCI vendor ID of every virtio device.</summary>
    public const ushort Vendor = 0x1AF4;

    /// <summary>Virtio device type 1 (5.1).</summary>
    public const ushort TypeNetwork = 1;

    /// <summary>Virtio device type 2 (5.2).</summary>
    public const ushort TypeBlock = 2;

    private const ushort TransitionalFirst = 0x1000;
    private const ushort TransitionalLast = 0x103F;
    private const ushort ModernBase = 0x1040;
    private const ushort ModernLast = 0x107F;

    /// <summary>The virtio device type of <paramref name="function"/>; false when it is not a virtio device.</summary>
    public static bool TryGetDeviceType(in PciFunction function, out ushort deviceType)
    {
        deviceType = 0;
        if (function.VendorId != Vendor)
        {
            return false;
        }

        ushort id = function.DeviceId;
        if (id >= ModernBase && id <= ModernLast)
        {
            deviceType = (ushort)(id - ModernBase);
            return true;
        }

        if (id >= TransitionalFirst && id <= TransitionalLast)
        {
            deviceType = function.SubsystemId;
            return true;
        }

        return false;
    }
}

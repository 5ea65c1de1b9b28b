using System;

namespace Keel.Drivers.Pci;

/// <summary>
/// Finds the functions of one PCI segment: every device on bus 0, and the buses behind every PCI-PCI bridge
/// found readable, breadth first. A function
/// whose vendor ID reads 0xFFFF, or whose configuration space refuses the read, is absent. Each bus is
/// visited at most once, so firmware that numbers a bridge's secondary bus as one already seen (a loop)
/// cannot make enumeration run forever.
/// </summary>
public static class PciEnumerator
{
    private const int BusCount = 256;

    /// <summary>Writes the functions found in <paramref name="segment"/> to <paramref name="found"/>, in bus,
    /// device, function order per bus, and returns how many were written; enumeration stops early when
    /// <paramref name="found"/> is full.</summary>
    public static int Enumerate(PciConfigSpace config, ushort segment, Span<PciFunction> found)
    {
        Span<bool> seen = stackalloc bool[BusCount];
        Span<byte> pending = stackalloc byte[BusCount];
        int pendingCount = 1;
        pending[0] = 0;
        seen[0] = true;
        int count = 0;
        for (int next = 0; next < pendingCount && count < found.Length; next++)
        {
            byte bus = pending[next];
            int firstOnBus = count;
            for (int device = 0; device < PciAddress.DevicesPerBus && count < found.Length; device++)
            {
                count = ScanDevice(config, segment, bus, device, found, count);
            }

            for (int i = firstOnBus; i < count; i++)
            {
                if (TrySecondaryBus(config, found[i], out byte secondary) && !seen[secondary])
                {
                    seen[secondary] = true;
                    pending[pendingCount++] = secondary;
                }
            }
        }

        return count;
    }

    // Function 0 decides for the device (PCI Local Bus 3.0, 6.2.1): absent there means no device; present
    // without the multi-function bit means the other function numbers may alias it and are not probed. When
    // function 0 cannot be read at all it is merely not ours, and a sibling function may still be, so all
    // eight are probed.
    private static int ScanDevice(PciConfigSpace config, ushort segment, byte bus, int device, Span<PciFunction> found, int count)
    {
        PciAddress.TryCreate(segment, bus, device, 0, out PciAddress first);
        int functions = PciAddress.FunctionsPerDevice;
        if (config.TryRead(first, PciHeader.VendorId, 2, out uint vendor))
        {
            if (vendor == PciHeader.AbsentVendor)
            {
                return count;
            }

            if (PciFunction.TryRead(config, first, out PciFunction zero) && !zero.IsMultiFunction)
            {
                functions = 1;
            }
        }

        for (int function = 0; function < functions && count < found.Length; function++)
        {
            PciAddress.TryCreate(segment, bus, device, function, out PciAddress address);
            if (PciFunction.TryRead(config, address, out PciFunction present))
            {
                found[count++] = present;
            }
        }

        return count;
    }

    private static bool TrySecondaryBus(PciConfigSpace config, in PciFunction function, out byte secondary)
    {
        secondary = 0;
        if (!function.IsBridge || !config.TryRead(function.Address, PciHeader.SecondaryBus, 1, out uint value))
        {
            return false;
        }

        secondary = (byte)value;
        return true;
    }
}

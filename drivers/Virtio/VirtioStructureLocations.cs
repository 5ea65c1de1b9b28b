using Keel.Drivers.Pci;

namespace Keel.Drivers.Virtio;

/// <summary>
/// Where a device's four virtio structures are in physical memory: for each cfg_type the first capability
/// the driver can use (virtio 1.2 4.1.4.1: "the driver SHOULD use the first instance of each virtio
/// structure type they can support"). Usable means long enough for what the driver reads and inside an
/// assigned memory BAR; structures in I/O BARs are skipped because this driver maps memory only. Only the
/// BAR's base is needed, never its size: the capability gives offset and length.
/// </summary>
internal struct VirtioStructureLocations
{
    private const ulong NotifyMinimum = 2;   // 4.1.4.4: at least one 16-bit notification
    private const ulong IsrMinimum = 1;      // 4.1.4.5: one byte

    public ulong CommonAddress, NotifyAddress, IsrAddress, DeviceAddress;      // 0 until found
    public uint CommonLength, NotifyLength, IsrLength, DeviceLength;
    public uint NotifyMultiplier;

    public bool HasRequired => CommonAddress != 0 && NotifyAddress != 0 && IsrAddress != 0;

    public static VirtioStructureLocations Find(PciConfigSpace config, in PciFunction function)
    {
        VirtioStructureLocations found = default;
        PciCapabilityCursor cursor = PciCapabilityCursor.Start(config, function.Address);
        while (cursor.TryNext(out PciCapability capability))
        {
            if (VirtioPciCapability.TryRead(config, function.Address, capability, out VirtioPciCapability virtio)
                && TryLocate(config, function, virtio, out ulong address))
            {
                found.Take(virtio, address);
            }
        }

        return found;
    }

    private void Take(in VirtioPciCapability capability, ulong address)
    {
        uint length = capability.Length;
        switch (capability.ConfigurationType)
        {
            case VirtioPciCapability.CommonConfiguration when CommonAddress == 0 && length >= VirtioCommonConfiguration.Length:
                CommonAddress = address;
                CommonLength = length;
                break;
            case VirtioPciCapability.Notification when NotifyAddress == 0 && length >= NotifyMinimum:
                NotifyAddress = address;
                NotifyLength = length;
                NotifyMultiplier = capability.NotifyOffsetMultiplier;
                break;
            case VirtioPciCapability.Isr when IsrAddress == 0 && length >= IsrMinimum:
                IsrAddress = address;
                IsrLength = length;
                break;
            case VirtioPciCapability.DeviceConfiguration when DeviceAddress == 0 && length > 0:
                DeviceAddress = address;
                DeviceLength = length;
                break;
        }
    }

    // The structure's physical address: the memory BAR's base plus the capability's offset, provided the
    // BAR is assigned and the sum does not wrap.
    private static bool TryLocate(PciConfigSpace config, in PciFunction function, in VirtioPciCapability capability, out ulong address)
    {
        address = 0;
        if (!PciBar.TryRead(config, function, capability.Bar, out PciBar bar) || bar.Kind == PciBarKind.Io || bar.Address == 0)
        {
            return false;
        }

        ulong end = bar.Address + capability.Offset + capability.Length;
        if (end < bar.Address)
        {
            return false;
        }

        address = bar.Address + capability.Offset;
        return true;
    }
}

using Keel.Drivers.Pci;

namespace Keel.Drivers.Virtio;

/// <summary>
/// A virtio structure's location, from a vendor-specific PCI capability (virtio 1.2 4.1.4, struct
/// virtio_pci_cap): which structure (cfg_type), in which BAR, at what offset and how long. The notification
/// capability adds notify_off_multiplier (4.1.4.4, struct virtio_pci_notify_cap).
/// </summary>
public readonly struct VirtioPciCapability
{
    /// <summary>cfg_type 1: common configuration (4.1.4.3).</summary>
    public const byte CommonConfiguration = 1;

    /// <summary>cfg_type 2: notifications (4.1.4.4).</summary>
    public const byte Notification = 2;

    /// <summary>cfg_type 3: the ISR status byte (4.1.4.5).</summary>
    public const byte Isr = 3;

    /// <summary>cfg_type 4: device-specific configuration (4.1.4.6).</summary>
    public const byte DeviceConfiguration = 4;

    /// <summary>cfg_type 5: the configuration-space access window (4.1.4.9); not used by this driver.</summary>
    public const byte PciConfigurationAccess = 5;

    private const int CfgTypeOffset = 3;
    private const int BarOffset = 4;
    private const int OffsetOffset = 8;
    private const int LengthOffset = 12;
    private const int MultiplierOffset = 16;
    private const int Size = 16;
    private const int NotifySize = 20;
    private const int LastBar = 5;

    /// <summary>Which structure this capability locates.</summary>
    public byte ConfigurationType { get; }

    /// <summary>The BAR (0-5) the structure lives in.</summary>
    public byte Bar { get; }

    /// <summary>The structure's offset within the BAR.</summary>
    public uint Offset { get; }

    /// <summary>The structure's length in bytes.</summary>
    public uint Length { get; }

    /// <summary>For <see cref="Notification"/>: the multiplier of queue_notify_off (0 otherwise).</summary>
    public uint NotifyOffsetMultiplier { get; }

    private VirtioPciCapability(byte type, byte bar, uint offset, uint length, uint multiplier)
    {
        ConfigurationType = type;
        Bar = bar;
        Offset = offset;
        Length = length;
        NotifyOffsetMultiplier = multiplier;
    }

    /// <summary>Reads the virtio capability at <paramref name="capability"/>; false when it is not a vendor
    /// capability, is shorter than its cfg_type needs, names a reserved BAR (4.1.4.1: the driver ignores
    /// such a capability) or cannot be read.</summary>
    public static bool TryRead(PciConfigSpace config, PciAddress address, PciCapability capability, out VirtioPciCapability found)
    {
        found = default;
        int at = capability.Offset;
        if (capability.Id != PciCapability.VendorSpecific
            || !config.TryRead(address, at, 4, out uint head)
            || !config.TryRead(address, at + BarOffset, 1, out uint bar)
            || !config.TryRead(address, at + OffsetOffset, 4, out uint offset)
            || !config.TryRead(address, at + LengthOffset, 4, out uint length))
        {
            return false;
        }

        byte capLength = (byte)(head >> 16);
        byte type = (byte)(head >> (8 * CfgTypeOffset));
        if (capLength < Size || bar > LastBar)
        {
            return false;
        }

        uint multiplier = 0;
        if (type == Notification && (capLength < NotifySize || !config.TryRead(address, at + MultiplierOffset, 4, out multiplier)))
        {
            return false;
        }

        found = new VirtioPciCapability(type, (byte)bar, offset, length, multiplier);
        return true;
    }
}

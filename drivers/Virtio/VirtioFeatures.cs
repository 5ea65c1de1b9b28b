namespace Keel.Drivers.Virtio;

/// <summary>Feature bits every device type shares (virtio 1.2 6, "Reserved Feature Bits"), as masks.</summary>
public static class VirtioFeatures
{
    /// <summary>Bit 28, VIRTIO_F_INDIRECT_DESC: descriptors may point at tables of descriptors (2.7.5.3).</summary>
    public const ulong IndirectDescriptors = 1UL << 28;

    /// <summary>Bit 29, VIRTIO_F_EVENT_IDX: the used_event and avail_event fields suppress notifications (2.7.10).</summary>
    public const ulong EventIndex = 1UL << 29;

    /// <summary>Bit 32, VIRTIO_F_VERSION_1: the device follows this specification rather than legacy virtio;
    /// a modern driver requires it (6.1).</summary>
    public const ulong Version1 = 1UL << 32;
}

namespace Keel.Drivers.Virtio;

/// <summary>Why a virtio device could not be brought up.</summary>
public enum VirtioFailure : byte
{
    /// <summary>Nothing failed.</summary>
    None,

    /// <summary>The PCI function is not a virtio device, or not of the type asked for.</summary>
    WrongDevice,

    /// <summary>No usable common configuration, notification or ISR capability: missing, too short, or in a
    /// BAR that is not an assigned memory BAR.</summary>
    CapabilityMissing,

    /// <summary>The MMIO mapper refused a structure's range.</summary>
    MappingRefused,

    /// <summary>The configuration space refused a command-register update.</summary>
    PciAccessRefused,

    /// <summary>device_status did not read back 0 after the reset (4.1.4.3.2).</summary>
    ResetTimedOut,

    /// <summary>The device does not offer VIRTIO_F_VERSION_1.</summary>
    Version1NotOffered,

    /// <summary>The device cleared FEATURES_OK: it does not accept the features chosen (3.1.1 step 6).</summary>
    FeaturesRefused,

    /// <summary>The device-specific configuration is missing, too short, or never read the same twice (2.5.1).</summary>
    DeviceConfigurationUnreadable,

    /// <summary>The queue does not exist or its notification address lies outside the notification structure.</summary>
    QueueUnavailable,

    /// <summary>The DMA memory for the queue or the requests ran out.</summary>
    OutOfDmaMemory,
}

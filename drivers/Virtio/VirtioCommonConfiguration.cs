namespace Keel.Drivers.Virtio;

/// <summary>
/// The layout of struct virtio_pci_common_cfg (virtio 1.2 4.1.4.3), the register block through which the
/// driver resets the device, negotiates features and sets up queues. Fields from queue_select on refer to
/// the queue queue_select names.
/// </summary>
public static class VirtioCommonConfiguration
{
    /// <summary>le32: which 32 bits of device_feature to show (0: bits 0-31, 1: bits 32-63).</summary>
    public const ulong DeviceFeatureSelect = 0x00;

    /// <summary>le32, read-only: the selected 32 bits of the features the device offers.</summary>
    public const ulong DeviceFeature = 0x04;

    /// <summary>le32: which 32 bits of driver_feature to write.</summary>
    public const ulong DriverFeatureSelect = 0x08;

    /// <summary>le32: the selected 32 bits of the features the driver accepts.</summary>
    public const ulong DriverFeature = 0x0C;

    /// <summary>le16: the MSI-X vector for configuration changes.</summary>
    public const ulong ConfigMsixVector = 0x10;

    /// <summary>le16, read-only: how many queues the device has.</summary>
    public const ulong NumQueues = 0x12;

    /// <summary>u8: the device status (2.1); writing 0 resets the device.</summary>
    public const ulong DeviceStatus = 0x14;

    /// <summary>u8, read-only: changes whenever the device configuration changes (2.5.1).</summary>
    public const ulong ConfigGeneration = 0x15;

    /// <summary>le16: the queue the fields below refer to.</summary>
    public const ulong QueueSelect = 0x16;

    /// <summary>le16: the queue's size; reads the maximum (0: no such queue) until the driver writes less.</summary>
    public const ulong QueueSize = 0x18;

    /// <summary>le16: the MSI-X vector for the queue.</summary>
    public const ulong QueueMsixVector = 0x1A;

    /// <summary>le16: 1 enables the queue.</summary>
    public const ulong QueueEnable = 0x1C;

    /// <summary>le16, read-only: the queue's offset into the notification structure, in multiples of
    /// notify_off_multiplier.</summary>
    public const ulong QueueNotifyOff = 0x1E;

    /// <summary>le64: bus address of the descriptor table.</summary>
    public const ulong QueueDesc = 0x20;

    /// <summary>le64: bus address of the available (driver) ring.</summary>
    public const ulong QueueDriver = 0x28;

    /// <summary>le64: bus address of the used (device) ring.</summary>
    public const ulong QueueDevice = 0x30;

    /// <summary>The length of the structure up to and including queue_device: what this driver uses.</summary>
    public const ulong Length = 0x38;

    /// <summary>The MSI-X vector value that means "none" (4.1.4.3): with it in both vector fields, and MSI-X
    /// left disabled, the device interrupts through INTx# and the ISR (4.1.4.5).</summary>
    public const ushort NoVector = 0xFFFF;
}

namespace Keel.Drivers.Virtio;

/// <summary>The bits of device_status (virtio 1.2 2.1).</summary>
public static class VirtioStatus
{
    /// <summary>The guest has noticed the device.</summary>
    public const byte Acknowledge = 1;

    /// <summary>The guest knows how to drive the device.</summary>
    public const byte Driver = 2;

    /// <summary>The driver is set up and ready to drive the device.</summary>
    public const byte DriverOk = 4;

    /// <summary>The driver has acknowledged the features it understands; feature negotiation is over.</summary>
    public const byte FeaturesOk = 8;

    /// <summary>The device has hit an error it cannot recover from without a reset.</summary>
    public const byte DeviceNeedsReset = 64;

    /// <summary>The driver has given up on the device.</summary>
    public const byte Failed = 128;
}

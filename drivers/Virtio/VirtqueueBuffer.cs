namespace Keel.Drivers.Virtio;

/// <summary>One buffer of a descriptor chain (virtio 1.2 2.7.5): where it is on the bus, how long, and
/// whether the device writes it or reads it.</summary>
public readonly struct VirtqueueBuffer
{
    /// <summary>The bus address of the first byte.</summary>
    public ulong BusAddress { get; }

    /// <summary>The length in bytes.</summary>
    public uint Length { get; }

    /// <summary>Whether the device writes the buffer (VIRTQ_DESC_F_WRITE) rather than reads it.</summary>
    public bool DeviceWritable { get; }

    /// <summary>A buffer of <paramref name="length"/> bytes at <paramref name="busAddress"/>.</summary>
    public VirtqueueBuffer(ulong busAddress, uint length, bool deviceWritable)
    {
        BusAddress = busAddress;
        Length = length;
        DeviceWritable = deviceWritable;
    }
}

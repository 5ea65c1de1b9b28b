namespace Keel.Drivers.Virtio;

/// <summary>One data buffer of a block request: a bus address the device can reach by DMA and a length.</summary>
public readonly struct BlockSegment
{
    /// <summary>The bus address of the first byte.</summary>
    public ulong BusAddress { get; }

    /// <summary>The length in bytes.</summary>
    public uint Length { get; }

    /// <summary>A segment of <paramref name="length"/> bytes at <paramref name="busAddress"/>.</summary>
    public BlockSegment(ulong busAddress, uint length)
    {
        BusAddress = busAddress;
        Length = length;
    }
}

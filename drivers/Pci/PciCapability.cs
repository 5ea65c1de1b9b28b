namespace Keel.Drivers.Pci;

/// <summary>One entry of a function's capability list (PCI Local Bus 3.0, 6.7): its ID and where in
/// configuration space it starts.</summary>
public readonly struct PciCapability
{
    /// <summary>Capability ID 0x09: vendor specific (virtio's capabilities, virtio 1.2 4.1.4).</summary>
    public const byte VendorSpecific = 0x09;

    /// <summary>The capability ID (the byte at <see cref="Offset"/>).</summary>
    public byte Id { get; }

    /// <summary>The offset of the capability in configuration space.</summary>
    public int Offset { get; }

    /// <summary>A capability with ID <paramref name="id"/> at <paramref name="offset"/>.</summary>
    public PciCapability(byte id, int offset)
    {
        Id = id;
        Offset = offset;
    }
}

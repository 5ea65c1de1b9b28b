namespace Keel.Drivers;

/// <summary>
/// One mapped register region of a device (a window of a memory BAR), as the driver code sees it. A domain
/// implements it with volatile accesses to an uncached mapping; host tests implement it with a model device.
/// Offsets are bytes from the start of the region. Drivers only touch offsets they have checked against
/// <see cref="Length"/>, at the natural alignment of the access (virtio 1.2 4.1.3.1: each field is accessed
/// with its own width); an implementation may read all ones and drop writes outside the region.
/// </summary>
public abstract class DeviceRegisters
{
    /// <summary>The size of the region in bytes.</summary>
    public abstract ulong Length { get; }

    /// <summary>Reads one byte.</summary>
    public abstract byte Read8(ulong offset);

    /// <summary>Reads a little-endian 16-bit register.</summary>
    public abstract ushort Read16(ulong offset);

    /// <summary>Reads a little-endian 32-bit register.</summary>
    public abstract uint Read32(ulong offset);

    /// <summary>Reads a little-endian 64-bit register.</summary>
    public abstract ulong Read64(ulong offset);

    /// <summary>Writes one byte.</summary>
    public abstract void Write8(ulong offset, byte value);

    /// <summary>Writes a little-endian 16-bit register.</summary>
    public abstract void Write16(ulong offset, ushort value);

    /// <summary>Writes a little-endian 32-bit register.</summary>
    public abstract void Write32(ulong offset, uint value);

    /// <summary>Writes a little-endian 64-bit register.</summary>
    public abstract void Write64(ulong offset, ulong value);

    /// <summary>Whether an access of <paramref name="width"/> bytes at <paramref name="offset"/> lies wholly
    /// inside the region.</summary>
    public bool Contains(ulong offset, ulong width) => width <= Length && offset <= Length - width;
}

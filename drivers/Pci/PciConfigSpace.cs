namespace Keel.Drivers.Pci;

/// <summary>
/// Access to PCI configuration space. A domain implements it with the hypercall that reads and writes the
/// configuration space of the functions it was given (the kernel refuses the others); host tests implement
/// it with model devices. A failed access means "no device there, or not yours": the driver treats that
/// function as absent.
/// </summary>
public abstract class PciConfigSpace
{
    /// <summary>Reads <paramref name="width"/> bytes (1, 2 or 4, naturally aligned) at byte
    /// <paramref name="offset"/> of the function's 256-byte configuration header.</summary>
    public abstract bool TryRead(PciAddress address, int offset, int width, out uint value);

    /// <summary>Writes <paramref name="width"/> bytes (1, 2 or 4, naturally aligned) at byte
    /// <paramref name="offset"/>; false when refused.</summary>
    public abstract bool TryWrite(PciAddress address, int offset, int width, uint value);
}

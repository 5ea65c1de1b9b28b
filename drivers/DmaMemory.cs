namespace Keel.Drivers;

/// <summary>
/// Memory a device may read and write by DMA. A domain implements it with pages of its own whose machine
/// addresses it knows (without an IOMMU the bus address is the machine address); host tests implement it
/// with a model of the bus. Drivers allocate everything they need at initialisation and nothing afterwards.
/// </summary>
public abstract class DmaMemory
{
    /// <summary>The size of every allocation.</summary>
    public const int PageSize = 4096;

    /// <summary>Allocates one zeroed, page-aligned 4 KiB page: <paramref name="virtualAddress"/> is where the
    /// driver reaches it, <paramref name="busAddress"/> where the device does. False when memory is
    /// exhausted.</summary>
    public abstract bool TryAllocatePage(out ulong virtualAddress, out ulong busAddress);
}

namespace Keel.Drivers;

/// <summary>
/// Maps a range of device memory (part of a memory BAR) into the driver's address space. A domain implements
/// it with a hypercall that maps the machine frames uncached, and refuses ranges of devices it was not given.
/// Mappings are made at initialisation and never released.
/// </summary>
public abstract class MmioMapper
{
    /// <summary>Maps <paramref name="length"/> bytes of device memory starting at bus/physical address
    /// <paramref name="physicalAddress"/>; false when the range cannot be or may not be mapped.</summary>
    public abstract bool TryMap(ulong physicalAddress, ulong length, out DeviceRegisters registers);
}

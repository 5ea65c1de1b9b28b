namespace Keel.Drivers.Pci;

/// <summary>
/// Walks a function's capability list (PCI Local Bus 3.0, 6.7): present when Status bit 4 is set, the first
/// entry at the Capabilities Pointer (0x34), each entry a byte of ID and a byte pointing at the next (0 ends
/// the list). Pointers are dword-aligned (the low two bits are reserved and ignored) and lie after the
/// 64-byte standard header, so there are only 48 places an entry can be: the walk remembers which it has
/// visited and stops at the first revisit, which ends any loop a broken or hostile device builds.
/// </summary>
public struct PciCapabilityCursor
{
    private const int FirstOffset = 0x40;
    private const int PointerMask = 0xFC;

    private readonly PciConfigSpace _config;
    private readonly PciAddress _address;
    private int _next;       // the offset of the next entry, 0 when the walk is over
    private ulong _visited;  // bit (offset - 0x40) / 4 set once that entry has been returned

    /// <summary>Whether the walk ended at something other than a 0 pointer: a pointer into the standard
    /// header, a revisited entry (a loop) or a failed read.</summary>
    public bool Malformed { get; private set; }

    private PciCapabilityCursor(PciConfigSpace config, PciAddress address, int first)
    {
        _config = config;
        _address = address;
        _next = first;
        _visited = 0;
        Malformed = false;
    }

    /// <summary>A cursor at the first capability of the function at <paramref name="address"/>; empty when
    /// the Status register says there is no list, or cannot be read.</summary>
    public static PciCapabilityCursor Start(PciConfigSpace config, PciAddress address)
    {
        if (!config.TryRead(address, PciHeader.Status, 2, out uint status)
            || (status & PciHeader.StatusCapabilitiesList) == 0
            || !config.TryRead(address, PciHeader.CapabilitiesPointer, 1, out uint pointer))
        {
            return new PciCapabilityCursor(config, address, 0);
        }

        return new PciCapabilityCursor(config, address, (int)pointer & PointerMask);
    }

    /// <summary>The next capability of the list; false when the list is over (see <see cref="Malformed"/>).</summary>
    public bool TryNext(out PciCapability capability)
    {
        capability = default;
        int offset = _next;
        if (offset == 0)
        {
            return false;
        }

        _next = 0;
        if (offset < FirstOffset)
        {
            Malformed = true;
            return false;
        }

        ulong bit = 1UL << ((offset - FirstOffset) >> 2);
        if ((_visited & bit) != 0 || !_config.TryRead(_address, offset, 2, out uint entry))
        {
            Malformed = true;
            return false;
        }

        _visited |= bit;
        _next = (int)(entry >> 8) & PointerMask;
        capability = new PciCapability((byte)entry, offset);
        return true;
    }

    /// <summary>Finds the first capability with ID <paramref name="id"/>.</summary>
    public static bool TryFind(PciConfigSpace config, PciAddress address, byte id, out PciCapability capability)
    {
        PciCapabilityCursor cursor = Start(config, address);
        while (cursor.TryNext(out capability))
        {
            if (capability.Id == id)
            {
                return true;
            }
        }

        return false;
    }
}

namespace Keel.Drivers.Pci;

/// <summary>What a Base Address Register decodes (PCI Local Bus 3.0, 6.2.5.1).</summary>
public enum PciBarKind : byte
{
    /// <summary>Memory space, anywhere in the first 4 GiB (type 00).</summary>
    Memory32,

    /// <summary>Memory space, anywhere in 64-bit space; the next BAR holds the upper half (type 10).</summary>
    Memory64,

    /// <summary>I/O space.</summary>
    Io,
}

/// <summary>
/// One decoded Base Address Register (PCI Local Bus 3.0, 6.2.5.1). Reading a BAR needs no writes; its size
/// needs the write-all-ones probe, which a domain may be refused, so sizing is a separate, optional step:
/// a driver that learns the extent of what it maps elsewhere (virtio's capabilities give offset and length)
/// never needs it.
/// </summary>
public readonly struct PciBar
{
    /// <summary>BARs in a type 0 header.</summary>
    public const int GeneralCount = 6;

    /// <summary>BARs in a type 1 (bridge) header.</summary>
    public const int BridgeCount = 2;

    private const uint IoSpaceBit = 0x1;
    private const uint MemoryTypeMask = 0x6;
    private const uint MemoryType64 = 0x4;
    private const uint PrefetchableBit = 0x8;
    private const uint MemoryAddressMask = 0xFFFFFFF0;
    private const uint IoAddressMask = 0xFFFFFFFC;

    /// <summary>Which BAR (0-5) this is; a 64-bit BAR also occupies the next one.</summary>
    public int Index { get; }

    /// <summary>What the BAR decodes.</summary>
    public PciBarKind Kind { get; }

    /// <summary>Memory BAR bit 3: reads have no side effects and may be merged.</summary>
    public bool Prefetchable { get; }

    /// <summary>The base address firmware assigned (0: unassigned).</summary>
    public ulong Address { get; }

    /// <summary>The size in bytes, or 0 when the BAR has not been sized (see <see cref="TrySize"/>).</summary>
    public ulong Size { get; }

    private PciBar(int index, PciBarKind kind, bool prefetchable, ulong address, ulong size)
    {
        Index = index;
        Kind = kind;
        Prefetchable = prefetchable;
        Address = address;
        Size = size;
    }

    /// <summary>Decodes BAR <paramref name="index"/> of <paramref name="function"/> without writing anything;
    /// false when the index is out of range for the header type, a read fails, the memory type is reserved,
    /// or a 64-bit BAR has no room for its upper half.</summary>
    public static bool TryRead(PciConfigSpace config, in PciFunction function, int index, out PciBar bar)
    {
        bar = default;
        int count = function.IsBridge ? BridgeCount : GeneralCount;
        if ((uint)index >= (uint)count || !config.TryRead(function.Address, Offset(index), 4, out uint low))
        {
            return false;
        }

        if ((low & IoSpaceBit) != 0)
        {
            bar = new PciBar(index, PciBarKind.Io, false, low & IoAddressMask, 0);
            return true;
        }

        bool prefetchable = (low & PrefetchableBit) != 0;
        uint type = low & MemoryTypeMask;
        if (type == 0)
        {
            bar = new PciBar(index, PciBarKind.Memory32, prefetchable, low & MemoryAddressMask, 0);
            return true;
        }

        if (type != MemoryType64 || index + 1 >= count || !config.TryRead(function.Address, Offset(index + 1), 4, out uint high))
        {
            return false;
        }

        bar = new PciBar(index, PciBarKind.Memory64, prefetchable, (ulong)high << 32 | (low & MemoryAddressMask), 0);
        return true;
    }

    /// <summary>Sizes <paramref name="bar"/> by writing all ones and reading back which address bits stick
    /// (6.2.5.1), with the function's decoding switched off meanwhile so that the probe value is never
    /// decoded, then restores the BAR and the command register. False when a write is refused (the original
    /// values are restored as far as the configuration space allows) or the BAR is not implemented.</summary>
    public static bool TrySize(PciConfigSpace config, in PciFunction function, in PciBar bar, out PciBar sized)
    {
        sized = default;
        PciAddress address = function.Address;
        if (!config.TryRead(address, PciHeader.Command, 2, out uint command))
        {
            return false;
        }

        uint decodeOff = command & ~(uint)(PciHeader.CommandIoSpace | PciHeader.CommandMemorySpace);
        if (!config.TryWrite(address, PciHeader.Command, 2, decodeOff))
        {
            return false;
        }

        bool probed = TryProbe(config, address, bar.Index, out uint low);
        bool probedHigh = true;
        uint high = 0;
        if (probed && bar.Kind == PciBarKind.Memory64)
        {
            probedHigh = TryProbe(config, address, bar.Index + 1, out high);
        }

        bool restored = config.TryWrite(address, PciHeader.Command, 2, command);
        ulong size = SizeFrom(bar.Kind, low, high);
        if (!probed || !probedHigh || !restored || size == 0)
        {
            return false;
        }

        sized = new PciBar(bar.Index, bar.Kind, bar.Prefetchable, bar.Address, size);
        return true;
    }

    private static int Offset(int index) => PciHeader.Bar0 + 4 * index;

    private static bool TryProbe(PciConfigSpace config, PciAddress address, int index, out uint probe)
    {
        probe = 0;
        int offset = Offset(index);
        if (!config.TryRead(address, offset, 4, out uint original))
        {
            return false;
        }

        bool wrote = config.TryWrite(address, offset, 4, 0xFFFFFFFF);
        bool read = wrote && config.TryRead(address, offset, 4, out probe);
        bool restored = config.TryWrite(address, offset, 4, original);
        return wrote && read && restored;
    }

    // The size is the two's complement of the address bits that stuck. An I/O BAR whose upper 16 bits read
    // back zero decodes only 16-bit I/O addresses (6.2.5.1), so those bits do not count against its size.
    private static ulong SizeFrom(PciBarKind kind, uint low, uint high)
    {
        switch (kind)
        {
            case PciBarKind.Io:
                uint io = low & IoAddressMask;
                if (io == 0)
                {
                    return 0;
                }

                if ((io & 0xFFFF0000) == 0)
                {
                    io |= 0xFFFF0000;
                }

                return ~io + 1;
            case PciBarKind.Memory32:
                uint memory = low & MemoryAddressMask;
                return memory == 0 ? 0 : (ulong)(~memory + 1);
            default:
                ulong wide = (ulong)high << 32 | (low & MemoryAddressMask);
                return wide == 0 ? 0 : ~wide + 1;
        }
    }
}

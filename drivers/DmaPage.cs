using System;
using System.Threading;

namespace Keel.Drivers;

/// <summary>
/// One page of <see cref="DmaMemory"/>: the only place the drivers touch DMA memory raw. Every access is
/// volatile, because the device reads and writes the page behind the compiler's back, and bounds-checked
/// against the page, so no caller mistake reaches memory outside it. Structures shared with a device are
/// laid out at offsets that keep each field naturally aligned (virtio 1.2 2.7: 16-byte descriptors, 2- and
/// 4-byte ring fields), so every access here is aligned as well.
/// </summary>
public readonly unsafe struct DmaPage
{
    private readonly byte* _memory;   // the page in the driver's address space
    private readonly ulong _bus;      // the page as the device addresses it

    private DmaPage(byte* memory, ulong bus)
    {
        _memory = memory;
        _bus = bus;
    }

    /// <summary>The bus address of the first byte of the page.</summary>
    public ulong BusAddress => _bus;

    /// <summary>Allocates and wraps one zeroed page; false when <paramref name="memory"/> is exhausted or
    /// hands back a page that is not page-aligned.</summary>
    public static bool TryAllocate(DmaMemory memory, out DmaPage page)
    {
        page = default;
        if (!memory.TryAllocatePage(out ulong virtualAddress, out ulong busAddress))
        {
            return false;
        }

        if (virtualAddress == 0 || (virtualAddress & (DmaMemory.PageSize - 1)) != 0 || (busAddress & (DmaMemory.PageSize - 1)) != 0)
        {
            return false;
        }

        page = new DmaPage((byte*)virtualAddress, busAddress);
        return true;
    }

    /// <summary>Reads the byte at <paramref name="offset"/>.</summary>
    public byte Read8(int offset) => Volatile.Read(ref *At(offset, 1));

    /// <summary>Reads the 16-bit value at <paramref name="offset"/>.</summary>
    public ushort Read16(int offset) => Volatile.Read(ref *(ushort*)At(offset, 2));

    /// <summary>Reads the 32-bit value at <paramref name="offset"/>.</summary>
    public uint Read32(int offset) => Volatile.Read(ref *(uint*)At(offset, 4));

    /// <summary>Writes the byte at <paramref name="offset"/>.</summary>
    public void Write8(int offset, byte value) => Volatile.Write(ref *At(offset, 1), value);

    /// <summary>Writes the 16-bit value at <paramref name="offset"/>.</summary>
    public void Write16(int offset, ushort value) => Volatile.Write(ref *(ushort*)At(offset, 2), value);

    /// <summary>Writes the 32-bit value at <paramref name="offset"/>.</summary>
    public void Write32(int offset, uint value) => Volatile.Write(ref *(uint*)At(offset, 4), value);

    /// <summary>Writes the 64-bit value at <paramref name="offset"/>.</summary>
    public void Write64(int offset, ulong value) => Volatile.Write(ref *(ulong*)At(offset, 8), value);

    /// <summary>Writes two 64-bit values side by side at <paramref name="offset"/> (16-byte aligned), checked once:
    /// a whole 16-byte structure such as a virtqueue descriptor.</summary>
    public void Write64Pair(int offset, ulong first, ulong second)
    {
        ulong* at = (ulong*)At(offset, 16);
        Volatile.Write(ref at[0], first);
        Volatile.Write(ref at[1], second);
    }

    // Sound because the pointer was checked non-null and page-aligned at allocation, DmaMemory promises the
    // whole page belongs to this domain, and the check below keeps [offset, offset + width) inside it and
    // aligned to width. A failed check is a bug in the driver, not input from the device, so it stops the
    // domain rather than touching memory it does not own.
    private byte* At(int offset, int width)
    {
        if (_memory == null || (uint)offset > (uint)(DmaMemory.PageSize - width) || (offset & (width - 1)) != 0)
        {
            Environment.FailFast("DmaPage: access outside the page or misaligned");
        }

        return _memory + offset;
    }
}

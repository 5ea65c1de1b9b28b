using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Keel.Drivers;

namespace Keel.Drivers.Tests.Model;

/// <summary>
/// The model machine's DMA memory: real pages of this process for the driver, and a bus on which the
/// model device reaches them. Bus addresses are deliberately unlike the pages' virtual addresses, so a
/// driver that hands the device a virtual address is caught. Pages are bus-contiguous in allocation order.
/// </summary>
public sealed unsafe class ModelDma : DmaMemory, IDisposable
{
    public const ulong BusBase = 0x0000_0040_0000_0000;

    private readonly List<nint> _pages = new();

    /// <summary>Pages the driver may still allocate.</summary>
    public int Remaining { get; set; } = int.MaxValue;

    public override bool TryAllocatePage(out ulong virtualAddress, out ulong busAddress)
    {
        virtualAddress = 0;
        busAddress = 0;
        if (Remaining <= 0)
        {
            return false;
        }

        Remaining--;
        void* page = NativeMemory.AlignedAlloc(PageSize, PageSize);
        NativeMemory.Clear(page, PageSize);
        busAddress = BusBase + (ulong)_pages.Count * PageSize;
        _pages.Add((nint)page);
        virtualAddress = (ulong)page;
        return true;
    }

    /// <summary>A buffer of whole pages for test data, and its bus address.</summary>
    public ulong AllocateBuffer(int pages)
    {
        ulong first = 0;
        for (int i = 0; i < pages; i++)
        {
            Remaining++;
            TryAllocatePage(out _, out ulong bus);
            first = i == 0 ? bus : first;
        }

        return first;
    }

    /// <summary>The device reading memory: false when any byte is not on the bus.</summary>
    public bool TryRead(ulong bus, Span<byte> destination) =>
        TryVisit(bus, destination.Length, destination, static (page, done, buffer) => page.CopyTo(buffer.Slice(done)));

    /// <summary>The device writing memory: false (nothing written past the hole) when a byte is not on the bus.</summary>
    public bool TryWrite(ulong bus, ReadOnlySpan<byte> source) =>
        TryVisit(bus, source.Length, MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(source), source.Length),
            static (page, done, buffer) => buffer.Slice(done, page.Length).CopyTo(page));

    private delegate void PageChunk(Span<byte> page, int done, Span<byte> buffer);

    // Walks [bus, bus + length) page by page, handing each piece of page memory to the visitor.
    private bool TryVisit(ulong bus, int length, Span<byte> buffer, PageChunk visit)
    {
        int done = 0;
        while (done < length)
        {
            if (!TryLocate(bus + (ulong)done, out byte* at, out int available))
            {
                return false;
            }

            int chunk = Math.Min(available, length - done);
            visit(new Span<byte>(at, chunk), done, buffer);
            done += chunk;
        }

        return true;
    }

    public ushort Read16(ulong bus) => BitConverter.ToUInt16(ReadBytes(bus, 2));

    public uint Read32(ulong bus) => BitConverter.ToUInt32(ReadBytes(bus, 4));

    public ulong Read64(ulong bus) => BitConverter.ToUInt64(ReadBytes(bus, 8));

    public void Write16(ulong bus, ushort value) => TryWrite(bus, BitConverter.GetBytes(value));

    public void Write32(ulong bus, uint value) => TryWrite(bus, BitConverter.GetBytes(value));

    public byte[] ReadBytes(ulong bus, int length)
    {
        byte[] bytes = new byte[length];
        if (!TryRead(bus, bytes))
        {
            throw new InvalidOperationException($"bus address 0x{bus:x} is not DMA memory");
        }

        return bytes;
    }

    public void WriteBytes(ulong bus, ReadOnlySpan<byte> bytes)
    {
        if (!TryWrite(bus, bytes))
        {
            throw new InvalidOperationException($"bus address 0x{bus:x} is not DMA memory");
        }
    }

    public void Dispose()
    {
        foreach (nint page in _pages)
        {
            NativeMemory.AlignedFree((void*)page);
        }

        _pages.Clear();
    }

    private bool TryLocate(ulong bus, out byte* at, out int available)
    {
        at = null;
        available = 0;
        if (bus < BusBase)
        {
            return false;
        }

        ulong index = (bus - BusBase) / PageSize;
        if (index >= (ulong)_pages.Count)
        {
            return false;
        }

        int offset = (int)((bus - BusBase) % PageSize);
        at = (byte*)_pages[(int)index] + offset;
        available = PageSize - offset;
        return true;
    }
}

using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using Keel.Blkback.Core;

namespace Keel.Blkback.Tests.Support;

/// <summary>
/// A model grant table: each granted reference is a page of native memory, and a device mapping's bus
/// address is that page's address, so the in-memory disk can reach the data directly. It counts live
/// mappings, refuses the references a test names, and can run a callback inside a map (to play a front-end
/// that rewrites shared memory while the back-end works).
/// </summary>
public sealed unsafe class TestGrants : GrantMapper, IDisposable
{
    private readonly Dictionary<uint, nint> _pages = new();
    private readonly HashSet<uint> _readOnly = new();
    private readonly Dictionary<uint, (ulong Address, bool Writable)> _live = new();
    private uint _nextHandle = 1;

    /// <summary>The domid every map must name.</summary>
    public ushort Frontend { get; set; } = 7;

    /// <summary>References whose maps fail.</summary>
    public HashSet<uint> Refused { get; } = new();

    /// <summary>Runs inside every map, before it succeeds or fails.</summary>
    public Action<uint> OnMap { get; set; }

    public int Live => _live.Count;

    public int DeviceMaps { get; private set; }

    /// <summary>Unmaps of a handle not live, or with the wrong address: must stay 0.</summary>
    public int BadUnmaps { get; private set; }

    /// <summary>Grants a fresh zeroed page under <paramref name="grantRef"/> and returns it.</summary>
    public byte* Grant(uint grantRef, bool readOnly = false)
    {
        if (!_pages.TryGetValue(grantRef, out nint page))
        {
            page = (nint)NativeMemory.AlignedAlloc(4096, 4096);
            NativeMemory.Clear((void*)page, 4096);
            _pages[grantRef] = page;
        }

        if (readOnly)
        {
            _readOnly.Add(grantRef);
        }

        return (byte*)page;
    }

    public Span<byte> Page(uint grantRef) => new Span<byte>((void*)_pages[grantRef], 4096);

    /// <summary>Whether [address, address + length) lies in one live device mapping, writable if asked.</summary>
    public bool Covers(ulong address, uint length, bool write)
    {
        foreach (var mapping in _live.Values)
        {
            if (address >= mapping.Address && address + length <= mapping.Address + 4096 && (mapping.Writable || !write))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Calls of <see cref="MapForDevice"/> (batches) and of <see cref="UnmapForDevice"/>.</summary>
    public int MapCalls { get; private set; }

    public int UnmapCalls { get; private set; }

    public override void MapForDevice(ushort frontend, Span<DeviceMapping> pages)
    {
        MapCalls++;
        for (int i = 0; i < pages.Length; i++)
        {
            DeviceMaps++;
            pages[i].Mapped = TryMap(frontend, pages[i].GrantRef, pages[i].DeviceWrites, out pages[i].BusAddress, out pages[i].Handle);
        }
    }

    public override void UnmapForDevice(ReadOnlySpan<DeviceMapping> pages)
    {
        UnmapCalls++;
        foreach (DeviceMapping page in pages)
        {
            if (page.Mapped)
            {
                Unmap(page.Handle, page.BusAddress);
            }
        }
    }

    /// <summary>Copies made of granted pages (indirect descriptors).</summary>
    public int Copies { get; private set; }

    public override bool TryCopyFromGrant(ushort frontend, uint grantRef, Span<byte> into)
    {
        Copies++;
        if (frontend != Frontend || Refused.Contains(grantRef) || !_pages.TryGetValue(grantRef, out nint page) || into.Length > 4096)
        {
            return false;
        }

        new ReadOnlySpan<byte>((void*)page, into.Length).CopyTo(into);
        return true;
    }

    private bool TryMap(ushort frontend, uint grantRef, bool writable, out ulong address, out uint handle)
    {
        address = 0;
        handle = 0;
        OnMap?.Invoke(grantRef);
        if (frontend != Frontend || Refused.Contains(grantRef) || !_pages.TryGetValue(grantRef, out nint page)
            || (writable && _readOnly.Contains(grantRef)))
        {
            return false;
        }

        address = (ulong)page;
        handle = _nextHandle++;
        _live[handle] = (address, writable);
        return true;
    }

    private void Unmap(uint handle, ulong address)
    {
        if (!_live.TryGetValue(handle, out var mapping) || mapping.Address != address)
        {
            BadUnmaps++;
            return;
        }

        _live.Remove(handle);
    }

    public void Dispose()
    {
        foreach (nint page in _pages.Values)
        {
            NativeMemory.AlignedFree((void*)page);
        }

        _pages.Clear();
    }
}

using System;

namespace Keel.Blkback.Core;

/// <summary>
/// How the engine reaches a front-end's granted pages. The domain implements it with GNTTABOP_map_grant_ref
/// and GNTTABOP_unmap_grant_ref; the host tests with a table of native pages that counts live mappings.
/// Every grant reference is an allegation of the front-end: a map may be refused at any time (unknown ref,
/// revoked, granted to another domain, read-only but asked writable), and the engine unwinds when it is.
/// An abstract class rather than an interface: freestanding domains have virtual calls but no interface
/// dispatch.
/// </summary>
public abstract class GrantMapper
{
    /// <summary>
    /// Maps every page of <paramref name="pages"/> of <paramref name="frontend"/> for the device's DMA in one
    /// go (one GNTTABOP_map_grant_ref with an operation each, GNTMAP_device_map, also GNTMAP_readonly where
    /// the device only reads the page: a disk write). Each entry's <see cref="DeviceMapping.Mapped"/> says
    /// whether its page was mapped; each is tried whatever became of the others, as Xen does a batch.
    /// </summary>
    public abstract void MapForDevice(ushort frontend, Span<DeviceMapping> pages);

    /// <summary>Undoes every mapped entry of <paramref name="pages"/> in one go; the others are passed over.</summary>
    public abstract void UnmapForDevice(ReadOnlySpan<DeviceMapping> pages);

    /// <summary>Maps one page for the device: <see cref="MapForDevice"/> of one entry. False: nothing was mapped.</summary>
    public bool TryMapForDevice(ushort frontend, uint grantRef, bool deviceWrites, out ulong busAddress, out uint handle)
    {
        Span<DeviceMapping> one = stackalloc DeviceMapping[1];
        one[0] = new DeviceMapping(grantRef, deviceWrites);
        MapForDevice(frontend, one);
        busAddress = one[0].BusAddress;
        handle = one[0].Handle;
        return one[0].Mapped;
    }

    /// <summary>Undoes one successful <see cref="TryMapForDevice"/>.</summary>
    public void UnmapForDevice(uint handle, ulong busAddress)
    {
        Span<DeviceMapping> one = stackalloc DeviceMapping[1];
        one[0] = new DeviceMapping(0, false) { Mapped = true, BusAddress = busAddress, Handle = handle };
        UnmapForDevice(one);
    }

    /// <summary>Copies the first <c>into.Length</c> bytes (at most 4096) of <paramref name="frontend"/>'s page
    /// <paramref name="grantRef"/> into <paramref name="into"/>, for the CPU to read indirect segment descriptors.
    /// The domain does it with one GNTTABOP_copy: no mapping is made, so there is nothing to undo and no TLB
    /// flush (a host mapping's unmap costs one). False: nothing was copied.</summary>
    public abstract bool TryCopyFromGrant(ushort frontend, uint grantRef, Span<byte> into);
}

/// <summary>One page of a batch of device mappings: what to map, and what the map gave.</summary>
public struct DeviceMapping
{
    public DeviceMapping(uint grantRef, bool deviceWrites)
    {
        GrantRef = grantRef;
        DeviceWrites = deviceWrites;
        Mapped = false;
        BusAddress = 0;
        Handle = 0;
    }

    /// <summary>The front-end's grant reference: an allegation, which the map may refuse.</summary>
    public uint GrantRef;

    /// <summary>The device writes the page (a disk read), so the mapping must be writable.</summary>
    public bool DeviceWrites;

    /// <summary>Set by the map: the page is mapped, at <see cref="BusAddress"/>, undone with <see cref="Handle"/>.</summary>
    public bool Mapped;

    public ulong BusAddress;

    public uint Handle;
}

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
    /// <summary>Maps <paramref name="grantRef"/> of <paramref name="frontend"/> for the device's DMA
    /// (GNTMAP_device_map; also GNTMAP_readonly unless <paramref name="deviceWrites"/>, i.e. when the device
    /// only reads the page: a disk write). <paramref name="busAddress"/> is where the device finds the page's
    /// first byte; <paramref name="handle"/> is what unmapping it needs. False: nothing was mapped.</summary>
    public abstract bool TryMapForDevice(ushort frontend, uint grantRef, bool deviceWrites, out ulong busAddress, out uint handle);

    /// <summary>Undoes one successful <see cref="TryMapForDevice"/>.</summary>
    public abstract void UnmapForDevice(uint handle, ulong busAddress);

    /// <summary>Copies the first <c>into.Length</c> bytes (at most 4096) of <paramref name="frontend"/>'s page
    /// <paramref name="grantRef"/> into <paramref name="into"/>, for the CPU to read indirect segment descriptors.
    /// The domain does it with one GNTTABOP_copy: no mapping is made, so there is nothing to undo and no TLB
    /// flush (a host mapping's unmap costs one). False: nothing was copied.</summary>
    public abstract bool TryCopyFromGrant(ushort frontend, uint grantRef, Span<byte> into);
}

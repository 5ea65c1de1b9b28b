namespace Keel.Blkback.Core;

/// <summary>Where one data segment of a request is mapped for the device.</summary>
internal struct MappedSegment
{
    /// <summary>The page's bus address (its first byte).</summary>
    public ulong BusAddress;

    /// <summary>The grant-table handle, for a mapping owned by this request alone.</summary>
    public uint Handle;

    /// <summary>The persistent grant cache entry lent to this request, or -1 when the request owns the mapping.</summary>
    public int CacheEntry;
}

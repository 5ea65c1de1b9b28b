using Keel.Ringlib.Protocols;

namespace Keel.Blkback.Core;

/// <summary>
/// What the back-end advertised in the store and the front-end took up. Flush is always offered (a disk
/// without a write cache completes it at once); barriers and discard are not (io/blkif.h: both optional),
/// so the parser answers them EOPNOTSUPP.
/// </summary>
public readonly struct VbdFeatures
{
    /// <summary>feature-max-indirect-segments as xen-blkback advertises it (MAX_INDIRECT_SEGMENTS).</summary>
    public const ushort DefaultMaxIndirectSegments = 256;

    /// <summary>feature-max-indirect-segments; 0 to refuse indirect requests.</summary>
    public ushort MaxIndirectSegments { get; }

    /// <summary>Both sides wrote feature-persistent: data pages stay mapped across requests.</summary>
    public bool PersistentGrants { get; }

    public VbdFeatures(ushort maxIndirectSegments, bool persistentGrants)
    {
        MaxIndirectSegments = maxIndirectSegments;
        PersistentGrants = persistentGrants;
    }

    /// <summary>What blkback advertises: 256 indirect segments and persistent grants.</summary>
    public static VbdFeatures Advertised => new VbdFeatures(DefaultMaxIndirectSegments, true);

    /// <summary>The most segments one request of this vbd may carry, direct or indirect.</summary>
    public int MaxSegmentsPerRequest => MaxIndirectSegments > Blkif.MaxSegmentsPerRequest ? MaxIndirectSegments : Blkif.MaxSegmentsPerRequest;

    /// <summary>The limits the parser checks a request of this extent against.</summary>
    internal BlkifDeviceLimits LimitsFor(in VbdExtent extent)
    {
        BlkifDeviceLimits limits = default;
        limits.CapacitySectors = extent.Sectors;
        limits.ReadOnly = extent.ReadOnly;
        limits.SupportsFlush = true;
        limits.MaxIndirectSegments = MaxIndirectSegments;
        return limits;
    }
}

using Keel.Ringlib;
using Keel.Ringlib.Protocols;

namespace Keel.Blkback.Core;

/// <summary>
/// A blkif ring over 2^order pages: the front-end grants ring-ref0..ring-ref(2^order - 1) with
/// ring-page-order, the back-end maps them contiguously and attaches one ring to the whole region
/// (io/blkif.h, "max-ring-page-order"; xen-blkback's XENBUS_MAX_RING_GRANT_ORDER is 4, Keel offers 3).
/// </summary>
public static unsafe class BlkifRingPages
{
    /// <summary>max-ring-page-order advertised: up to 8 pages, 256 requests.</summary>
    public const int MaxPageOrder = 3;

    public const uint PageBytes = 4096;

    /// <summary>Attaches to <paramref name="region"/>, 2^<paramref name="pageOrder"/> contiguous mapped pages
    /// the front-end initialised. False for an order outside 0..MaxPageOrder or a null region.</summary>
    public static bool TryAttach(void* region, int pageOrder, out BackRing<BlkifRequest, BlkifResponse> ring)
    {
        ring = default;
        if (pageOrder < 0 || pageOrder > MaxPageOrder)
        {
            return false;
        }

        return BackRing<BlkifRequest, BlkifResponse>.TryAttach(region, PageBytes << pageOrder, out ring);
    }
}

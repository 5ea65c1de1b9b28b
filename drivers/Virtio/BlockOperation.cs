namespace Keel.Drivers.Virtio;

/// <summary>What a block request asks for; the values are virtio-blk's request types (virtio 1.2 5.2.6).</summary>
public enum BlockOperation : uint
{
    /// <summary>VIRTIO_BLK_T_IN: read sectors into the segments.</summary>
    Read = 0,

    /// <summary>VIRTIO_BLK_T_OUT: write the segments to sectors.</summary>
    Write = 1,

    /// <summary>VIRTIO_BLK_T_FLUSH: make every completed write durable; no segments.</summary>
    Flush = 4,

    /// <summary>VIRTIO_BLK_T_GET_ID: read the device's 20-byte identification string.</summary>
    GetId = 8,
}

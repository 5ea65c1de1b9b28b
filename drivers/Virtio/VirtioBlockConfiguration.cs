namespace Keel.Drivers.Virtio;

/// <summary>
/// Feature bits and the device configuration layout of virtio-blk (virtio 1.2 5.2.3 and 5.2.4, struct
/// virtio_blk_config), and the fixed sizes of its requests (5.2.6).
/// </summary>
public static class VirtioBlockConfiguration
{
    /// <summary>VIRTIO_BLK_F_SIZE_MAX (1): size_max bounds every segment.</summary>
    public const ulong FeatureSizeMax = 1UL << 1;

    /// <summary>VIRTIO_BLK_F_SEG_MAX (2): seg_max bounds the segments of a request.</summary>
    public const ulong FeatureSegMax = 1UL << 2;

    /// <summary>VIRTIO_BLK_F_RO (5): the device is read-only; writes fail (5.2.5).</summary>
    public const ulong FeatureReadOnly = 1UL << 5;

    /// <summary>VIRTIO_BLK_F_BLK_SIZE (6): blk_size gives the device's logical block size.</summary>
    public const ulong FeatureBlockSize = 1UL << 6;

    /// <summary>VIRTIO_BLK_F_FLUSH (9): the device has a write cache and honours VIRTIO_BLK_T_FLUSH;
    /// without it the device is write-through (5.2.5).</summary>
    public const ulong FeatureFlush = 1UL << 9;

    /// <summary>le64 capacity, in 512-byte sectors whatever blk_size says.</summary>
    public const ulong Capacity = 0;

    /// <summary>le32 size_max, with VIRTIO_BLK_F_SIZE_MAX.</summary>
    public const ulong SizeMax = 8;

    /// <summary>le32 seg_max, with VIRTIO_BLK_F_SEG_MAX.</summary>
    public const ulong SegMax = 12;

    /// <summary>le32 blk_size, with VIRTIO_BLK_F_BLK_SIZE.</summary>
    public const ulong BlkSize = 20;

    /// <summary>The unit of sector numbers and of read and write lengths.</summary>
    public const uint SectorSize = 512;

    /// <summary>sizeof(struct virtio_blk_req) up to the data: le32 type, le32 reserved, le64 sector.</summary>
    public const uint HeaderSize = 16;

    /// <summary>The length of the identification string of VIRTIO_BLK_T_GET_ID (VIRTIO_BLK_ID_BYTES).</summary>
    public const uint IdBytes = 20;
}

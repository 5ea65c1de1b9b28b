namespace Keel.Drivers.Virtio;

/// <summary>
/// The split virtqueue's three areas (virtio 1.2 2.7): the descriptor table (struct virtq_desc, 2.7.5), the
/// available ring (struct virtq_avail, 2.7.6) and the used ring (struct virtq_used, 2.7.8), as byte offsets.
/// With at most <see cref="MaxSize"/> entries each area fits one 4 KiB page, which also meets their
/// alignments (16, 2 and 4 bytes, 2.7 table "Virtqueue Part Alignment").
/// </summary>
public static class VirtqueueLayout
{
    /// <summary>The largest queue this driver builds: 256 descriptors of 16 bytes fill one page.</summary>
    public const ushort MaxSize = 256;

    /// <summary>sizeof(struct virtq_desc).</summary>
    public const int DescriptorSize = 16;

    /// <summary>virtq_desc.addr: le64 bus address of the buffer.</summary>
    public const int DescriptorAddress = 0;

    /// <summary>virtq_desc.len: le32 length of the buffer.</summary>
    public const int DescriptorLength = 8;

    /// <summary>virtq_desc.flags: le16.</summary>
    public const int DescriptorFlags = 12;

    /// <summary>virtq_desc.next: le16 index of the next descriptor of the chain.</summary>
    public const int DescriptorNext = 14;

    /// <summary>VIRTQ_DESC_F_NEXT: the chain continues at next.</summary>
    public const ushort FlagNext = 1;

    /// <summary>VIRTQ_DESC_F_WRITE: the device writes this buffer (otherwise it reads it).</summary>
    public const ushort FlagWrite = 2;

    /// <summary>VIRTQ_DESC_F_INDIRECT: the buffer is a table of descriptors (2.7.5.3).</summary>
    public const ushort FlagIndirect = 4;

    /// <summary>virtq_avail.flags / virtq_used.flags: le16.</summary>
    public const int RingFlags = 0;

    /// <summary>virtq_avail.idx / virtq_used.idx: le16, where the producer will put its next entry.</summary>
    public const int RingIndex = 2;

    /// <summary>virtq_avail.ring[0] / virtq_used.ring[0].</summary>
    public const int RingEntries = 4;

    /// <summary>sizeof(le16) of a virtq_avail.ring entry: a chain's head descriptor index.</summary>
    public const int AvailableEntrySize = 2;

    /// <summary>sizeof(struct virtq_used_elem): le32 id (head index), le32 len (bytes written).</summary>
    public const int UsedEntrySize = 8;

    /// <summary>VIRTQ_AVAIL_F_NO_INTERRUPT: the driver does not want used buffer notifications (2.7.7).</summary>
    public const ushort AvailableNoInterrupt = 1;

    /// <summary>VIRTQ_USED_F_NO_NOTIFY: the device does not want available buffer notifications (2.7.7).</summary>
    public const ushort UsedNoNotify = 1;

    /// <summary>Offset of virtq_avail.used_event, right after the ring (2.7.6; only with VIRTIO_F_EVENT_IDX).</summary>
    public static int UsedEvent(ushort size) => RingEntries + AvailableEntrySize * size;

    /// <summary>Offset of virtq_used.avail_event, right after the ring (2.7.8; only with VIRTIO_F_EVENT_IDX).</summary>
    public static int AvailableEvent(ushort size) => RingEntries + UsedEntrySize * size;
}

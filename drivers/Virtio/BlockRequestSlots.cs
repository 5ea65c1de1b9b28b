namespace Keel.Drivers.Virtio;

/// <summary>
/// The per-request state of a virtio-blk driver, one slot per request that may be in flight, all allocated
/// at start: the 16-byte request header and the status byte in DMA memory (virtio 1.2 5.2.6, the parts of
/// struct virtio_blk_req around the data), the caller's token, and the requests the driver answered itself
/// without the device (malformed ones, flushes of a write-through device) until they are reaped.
/// </summary>
internal sealed class BlockRequestSlots
{
    private const int SlotBytes = 32;          // header (16) then status (1), padded to keep headers 16-aligned
    private const int StatusOffset = 16;
    private const int SlotsPerPage = DmaMemory.PageSize / SlotBytes;

    // A status byte the device has not written yet: not one of the values of 5.2.6, so a device that
    // completes a request without writing its status is reported as an I/O error, never as success.
    private const byte StatusUnwritten = 0xFF;

    private readonly DmaPage[] _pages;
    private readonly ulong[] _tokens;
    private readonly ushort[] _free;           // a stack of free slots
    private int _freeCount;
    private readonly ushort[] _local;          // slots answered by the driver, oldest first
    private readonly BlockStatus[] _localStatus;
    private int _localHead;
    private int _localCount;

    /// <summary>Slots in all.</summary>
    public int Count => _tokens.Length;

    /// <summary>Slots holding a request not yet reaped.</summary>
    public int InUse => Count - _freeCount;

    private BlockRequestSlots(DmaPage[] pages, int count)
    {
        _pages = pages;
        _tokens = new ulong[count];
        _free = new ushort[count];
        _local = new ushort[count];
        _localStatus = new BlockStatus[count];
        for (int i = 0; i < count; i++)
        {
            _free[i] = (ushort)(count - 1 - i);
        }

        _freeCount = count;
    }

    public static bool TryCreate(DmaMemory memory, int count, out BlockRequestSlots slots)
    {
        slots = null;
        DmaPage[] pages = new DmaPage[(count + SlotsPerPage - 1) / SlotsPerPage];
        for (int i = 0; i < pages.Length; i++)
        {
            if (!DmaPage.TryAllocate(memory, out pages[i]))
            {
                return false;
            }
        }

        slots = new BlockRequestSlots(pages, count);
        return true;
    }

    public bool TryTake(ulong token, out int slot)
    {
        slot = 0;
        if (_freeCount == 0)
        {
            return false;
        }

        slot = _free[--_freeCount];
        _tokens[slot] = token;
        return true;
    }

    public void Release(int slot) => _free[_freeCount++] = (ushort)slot;

    public ulong Token(int slot) => _tokens[slot];

    public ulong HeaderAddress(int slot) => Page(slot).BusAddress + (ulong)Offset(slot);

    public ulong StatusAddress(int slot) => HeaderAddress(slot) + StatusOffset;

    /// <summary>Fills in the header for the device and marks the status unwritten.</summary>
    public void Prepare(int slot, BlockOperation operation, ulong sector)
    {
        DmaPage page = Page(slot);
        int at = Offset(slot);
        page.Write32(at, (uint)operation);
        page.Write32(at + 4, 0);
        page.Write64(at + 8, sector);
        page.Write8(at + StatusOffset, StatusUnwritten);
    }

    /// <summary>The status the device wrote; anything but OK and UNSUPP counts as an I/O error.</summary>
    public BlockStatus ReadStatus(int slot)
    {
        byte status = Page(slot).Read8(Offset(slot) + StatusOffset);
        return status == (byte)BlockStatus.Ok ? BlockStatus.Ok
            : status == (byte)BlockStatus.Unsupported ? BlockStatus.Unsupported
            : BlockStatus.IoError;
    }

    public void CompleteLocally(int slot, BlockStatus status)
    {
        _local[(_localHead + _localCount) % _local.Length] = (ushort)slot;
        _localStatus[slot] = status;
        _localCount++;
    }

    public bool TryTakeLocal(out int slot, out BlockStatus status)
    {
        slot = 0;
        status = BlockStatus.Ok;
        if (_localCount == 0)
        {
            return false;
        }

        slot = _local[_localHead];
        status = _localStatus[slot];
        _localHead = (_localHead + 1) % _local.Length;
        _localCount--;
        return true;
    }

    private DmaPage Page(int slot) => _pages[slot / SlotsPerPage];

    private static int Offset(int slot) => (slot % SlotsPerPage) * SlotBytes;
}

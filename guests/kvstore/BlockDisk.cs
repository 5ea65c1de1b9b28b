using System;
using Keel.Drivers.Blkfront;
using Keel.Ringlib.Protocols;
using Keel.Runtime;

namespace Keel.Guests.KvStore;

/// <summary>
/// The store's disk over blkfront: one request at a time through buffer pages taken once, each waited for
/// until the back-end answers (across a back-end restart, which blkfront rides out) or a minute passes.
/// </summary>
internal sealed unsafe class BlockDisk : KvDisk
{
    private const int BufferPages = 8, SectorsPerPage = 8, PageBytes = 4096;
    private const ulong AnswerTimeoutNs = 60_000_000_000;

    private readonly BlockFront _front;
    private readonly ulong[] _va = new ulong[BufferPages];
    private readonly ulong[] _frame = new ulong[BufferPages];
    private ulong _token;

    private BlockDisk(BlockFront front) => _front = front;

    /// <summary>The disk with its buffer pages; null if the domain has too few pages left.</summary>
    public static BlockDisk Create(BlockFront front)
    {
        var disk = new BlockDisk(front);
        for (int i = 0; i < BufferPages; i++)
        {
            disk._va[i] = Pages.TakePage(out disk._frame[i]);
            if (disk._va[i] == 0) return null;
        }
        return disk;
    }

    public override ulong Sectors => _front.Sectors;

    public override bool ReadOnly => _front.ReadOnly;

    public override int MaxReadSectors => BufferPages * SectorsPerPage;

    public override bool Read(ulong sector, int count, Span<byte> into)
    {
        if (count < 1 || count > MaxReadSectors || into.Length < count * KvFormat.SectorBytes) return false;
        int pages = (count + SectorsPerPage - 1) / SectorsPerPage;
        if (!Transfer(BlkifOperation.Read, sector, pages, (byte)((count - 1) % SectorsPerPage))) return false;
        for (int p = 0; p < pages; p++)
        {
            int bytes = Math.Min(PageBytes, (count - p * SectorsPerPage) * KvFormat.SectorBytes);
            // A buffer page of this domain, mapped for its life; bytes is at most a page.
            new ReadOnlySpan<byte>((void*)_va[p], bytes).CopyTo(into.Slice(p * PageBytes));
        }
        return true;
    }

    /// <summary>Written, then the disk's write cache flushed (when the back-end offers flushes), so an
    /// acknowledged record is on stable storage, not only in the cache of the disk behind blkback.</summary>
    public override bool Write(ulong sector, ReadOnlySpan<byte> data)
    {
        if (data.Length < KvFormat.SectorBytes) return false;
        data.Slice(0, KvFormat.SectorBytes).CopyTo(new Span<byte>((void*)_va[0], KvFormat.SectorBytes));
        ulong token = ++_token;
        if (!_front.TrySubmit(BlkifOperation.Write, sector, new ReadOnlySpan<ulong>(_frame, 0, 1), 0, token) || !Answered(token)) return false;
        if (!_front.CanFlush) return true;
        token = ++_token;
        return _front.TrySubmitFlush(token) && Answered(token);
    }

    /// <summary>One request over the first pages buffer pages; true once the back-end answered it Okay.</summary>
    private bool Transfer(BlkifOperation operation, ulong sector, int pages, byte lastSector)
    {
        ulong token = ++_token;
        return _front.TrySubmit(operation, sector, new ReadOnlySpan<ulong>(_frame, 0, pages), lastSector, token) && Answered(token);
    }

    /// <summary>Waits for the one request in flight; true once the back-end answered it Okay.</summary>
    private bool Answered(ulong token)
    {
        Span<FrontCompletion> done = stackalloc FrontCompletion[1];
        ulong deadline = Clock.Now + AnswerTimeoutNs;
        while (Clock.Now < deadline)
        {
            _front.Pump();
            if (_front.Reap(done) == 1) return done[0].Token == token && done[0].Status == BlkifStatus.Okay;
        }
        return false;
    }
}

using Keel.Ringlib.Xen;

namespace Keel.Runtime
{
    /// <summary>
    /// The domain's pages past its initial mapping, mapped on demand above it, as a PV kernel extends its own
    /// address space: an L1 for each 2 MiB (one of the domain's unused frames, pinned, then hooked into the L2
    /// that covers it with mmu_update) and then the pages, each one of the domain's own frames
    /// (update_va_mapping), or left empty for mappings of other domains' grants. Frames are never given back:
    /// a domain takes what it needs at start-up; only one-page windows are, once the grant mapped in them is
    /// unmapped (<see cref="ReturnWindow"/>), for a service that maps a page of every domain it serves, again
    /// and again over the domains' lives. Addresses start at the end of the initial mapping (a 4 MiB
    /// boundary, so the first L1 is a fresh one) and frames at the first pfn the initial mapping does not cover.
    /// </summary>
    public static unsafe class Pages
    {
        private const ulong TableSpan = 2 * 1024 * 1024;
        private const ulong TableEntryFlags = 0x67, PageFlags = 0x63;

        private static ulong s_nextPfn, s_nextVa, s_tablesEnd;
        private static readonly ulong[] s_returned = new ulong[256];
        private static int s_returnedCount;

        private static void Start()
        {
            if (s_nextVa != 0) return;
            s_nextPfn = (Memory.InitialMappingEnd - DomainEntry.ImageBase) / Memory.PageSize;
            s_nextVa = s_tablesEnd = Memory.InitialMappingEnd;
        }

        /// <summary>Whether the domain still has a frame it has not used.</summary>
        public static bool HasFreeFrame
        {
            get
            {
                Start();
                return s_nextPfn < DomainEntry.StartInfo->NrPages;
            }
        }

        /// <summary>The machine frame of a pseudo-physical page no one uses yet; 0 when none is left.</summary>
        private static ulong TakeFrame()
        {
            Start();
            if (s_nextPfn >= DomainEntry.StartInfo->NrPages) return 0;
            return Memory.MachineFrame(s_nextPfn++);
        }

        /// <summary>One page mapped to a fresh (zeroed) frame of the domain, whose machine frame is given too; 0 when memory runs out.</summary>
        public static ulong TakePage(out ulong frame)
        {
            frame = 0;
            ulong va = TakeWindow(1);
            if (va == 0) return 0;
            frame = TakeFrame();
            if (frame == 0 || Memory.UpdateVaMapping(va, frame * Memory.PageSize | PageFlags, UpdateVaFlags.Invlpg) != 0) return 0;
            return va;
        }

        /// <summary>
        /// Moves the object heap onto <paramref name="bytes"/> of fresh pages (the rest of the image's small
        /// boot heap is abandoned, as Heap.Donate does with a smaller region): for a domain whose pools are
        /// larger than the boot heap, such as the control domain's store. False, with the heap as it was,
        /// when the domain has too few frames left.
        /// </summary>
        public static bool DonateHeap(ulong bytes)
        {
            Start();
            ulong pages = (bytes + Memory.PageSize - 1) / Memory.PageSize;
            if (s_nextPfn + pages + pages / 512 + 1 > DomainEntry.StartInfo->NrPages) return false;
            ulong first = 0;
            for (ulong i = 0; i < pages; i++)
            {
                ulong va = TakePage(out _);
                if (va == 0) return false;
                if (i == 0) first = va;
            }
            Internal.Runtime.Heap.Donate((byte*)first, (nuint)(pages * Memory.PageSize));
            return true;
        }

        /// <summary>
        /// Maps <paramref name="count"/> machine frames of I/O memory from <paramref name="firstFrame"/> (a device's
        /// BAR, given with XEN_DOMCTL_iomem_permission) uncached (PCD | PWT: PAT entry 3, UC), writable; 0 if the
        /// kernel refuses a frame (no permission) or address space runs out.
        /// </summary>
        public static ulong MapIo(ulong firstFrame, int count)
        {
            ulong va = TakeWindow(count);
            if (va == 0) return 0;
            for (int i = 0; i < count; i++)
            {
                ulong entry = (firstFrame + (ulong)i) * Memory.PageSize | PageFlags | UncachedFlags;
                if (Memory.UpdateVaMapping(va + (ulong)i * Memory.PageSize, entry, UpdateVaFlags.Invlpg) != 0) return 0;
            }
            return va;
        }

        /// <summary>PWT and PCD in an L1 entry (Intel SDM vol. 3A, table 4-19).</summary>
        private const ulong UncachedFlags = 0x18;

        /// <summary><paramref name="count"/> consecutive pages of address space with an L1 behind them and nothing
        /// mapped yet (where another domain's grants get mapped); 0 when memory for the L1s runs out.</summary>
        public static ulong TakeWindow(int count)
        {
            if (count == 1 && s_returnedCount > 0) return s_returned[--s_returnedCount];
            Start();
            ulong va = s_nextVa;
            for (int i = 0; i < count; i++)
            {
                if (!EnsureTable(va + (ulong)i * Memory.PageSize)) return 0;
            }
            s_nextVa = va + (ulong)count * Memory.PageSize;
            return va;
        }

        /// <summary>Gives back a one-page window of <see cref="TakeWindow"/> with nothing mapped in it any more, to
        /// be handed out again; past 256 waiting, its address space is simply not reused.</summary>
        public static void ReturnWindow(ulong va)
        {
            if (va != 0 && s_returnedCount < s_returned.Length) s_returned[s_returnedCount++] = va;
        }

        private static bool EnsureTable(ulong va)
        {
            while (va >= s_tablesEnd)
            {
                ulong frame = TakeFrame();
                if (frame == 0) return false;
                if (Memory.MmuExt(MmuExtRequest.PinL1Table, frame) != 0) return false;
                ulong slot = Memory.EntryMachineAddress(s_tablesEnd, 2);
                if (slot == 0 || Memory.MmuUpdate(slot, frame * Memory.PageSize | TableEntryFlags) != 0) return false;
                s_tablesEnd += TableSpan;
            }
            return true;
        }
    }
}

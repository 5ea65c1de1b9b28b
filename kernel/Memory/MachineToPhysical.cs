namespace Keel.Kernel.Memory
{
    /// <summary>
    /// The machine-to-physical table: for every machine frame, the pseudo-physical frame number its owning
    /// domain knows it by, or Invalid. PV guests read it at 0xFFFF800000000000 (Xen's RO_MPT_VIRT_START,
    /// xen/include/public/arch-x86/xen-x86_64.h) through a read-only, user-accessible mapping in the L4 slot
    /// every guest table shares with the kernel; the kernel writes it through the direct map, page by page,
    /// since its frames need not be physically contiguous.
    /// </summary>
    internal static unsafe class MachineToPhysical
    {
        internal const ulong Invalid = ulong.MaxValue;
        private const int EntriesPerPage = 512;

        private static ulong[] s_pages;

        /// <summary>Allocates and maps the table for frameCount machine frames, every entry Invalid.</summary>
        internal static bool TryCreate(FrameAllocator frames, AddressSpace<DirectMap> kernel, ulong frameCount)
        {
            s_pages = new ulong[(frameCount + EntriesPerPage - 1) / EntriesPerPage];
            for (int page = 0; page < s_pages.Length; page++)
            {
                if (!frames.TryAllocate(out ulong frame)) return false;
                ulong* entries = (ulong*)DirectMap.Pointer(frame);
                for (int i = 0; i < EntriesPerPage; i++) entries[i] = Invalid;
                s_pages[page] = frame;
                // Global: the mapping is the same in every address space, so a CR3 switch need not flush it.
                ulong at = Boot.KernelLayout.GuestMachineToPhysical + (ulong)page * 4096;
                if (kernel.Map(at, frame, PageFlags.User | PageFlags.NoExecute | PageFlags.Global) != MapResult.Mapped) return false;
            }
            return true;
        }

        /// <summary>The table's frames by MFN, in order: direct paging writes MACHPHYS_UPDATE through them.</summary>
        internal static ulong[] FrameNumbers()
        {
            var numbers = new ulong[s_pages.Length];
            for (int i = 0; i < numbers.Length; i++) numbers[i] = s_pages[i] / 4096;
            return numbers;
        }

        /// <summary>The pfn recorded for a machine frame: what the builder, populate_physmap or the domain itself
        /// (MMU_MACHPHYS_UPDATE) last wrote, so an allegation of the domain's; Invalid beyond the table.</summary>
        internal static ulong Get(ulong machineFrame)
        {
            ulong page = machineFrame / EntriesPerPage;
            if (page >= (ulong)s_pages.Length) return Invalid;
            return ((ulong*)DirectMap.Pointer(s_pages[page]))[machineFrame % EntriesPerPage];
        }

        /// <summary>Records the pfn a machine frame has in its domain (Invalid when it leaves the domain).</summary>
        internal static void Set(ulong machineFrame, ulong pfn)
        {
            ulong page = machineFrame / EntriesPerPage;
            if (page >= (ulong)s_pages.Length) return;
            ((ulong*)DirectMap.Pointer(s_pages[page]))[machineFrame % EntriesPerPage] = pfn;
        }
    }
}

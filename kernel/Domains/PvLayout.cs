namespace Keel.Kernel.Domains
{
    public enum PvLayoutError
    {
        None,
        /// <summary>The kernel image starts below VIRT_BASE or is not page-aligned.</summary>
        ImageBelowVirtBase,
        /// <summary>The initial mapping would reach a non-canonical address or the hypervisor's L4 slots 256-271.</summary>
        MappingOutsideGuestSpace,
        /// <summary>The domain has fewer pages than its kernel, boot structures and initial mapping need.</summary>
        TooLittleMemory,
    }

    /// <summary>
    /// Where Xen's domain builder (tools/libs/guest/xg_dom_x86.c, xg_dom_core.c) puts a PV64 guest's boot
    /// structures in its pseudo-physical space, pfn by pfn from the kernel's first page: the kernel image,
    /// the ramdisk (the initial domain's boot module, if it has one), the p2m list (one 8-byte MFN per page of the domain), start_info, the store page, the console page,
    /// the initial page tables (one L4, then the L3s, L2s and L1s that map the whole initial range), one boot
    /// stack page. The initial range runs from VIRT_BASE to all of that plus at least 512 KiB, rounded up to
    /// 4 MiB; every page in it is mapped. Plain arithmetic, so it is tested on the host.
    /// </summary>
    public readonly struct PvLayout
    {
        public const ulong PageSize = 4096;
        private const ulong Slack = 512 * 1024, Rounding = 4 * 1024 * 1024;

        public readonly ulong VirtBase;
        public readonly ulong KernelPfn, KernelPages;
        public readonly ulong RamdiskPfn, RamdiskPages;
        public readonly ulong P2mPfn, P2mPages;
        public readonly ulong StartInfoPfn, StorePfn, ConsolePfn;
        public readonly ulong TablesPfn, L3Tables, L2Tables, L1Tables;
        public readonly ulong StackPfn;
        /// <summary>First virtual address past the initial mapping.</summary>
        public readonly ulong MappedEnd;

        private PvLayout(ulong virtBase, ulong kernelPfn, ulong kernelPages, ulong ramdiskPages, ulong totalPages, ulong l3, ulong l2, ulong l1, ulong mappedEnd)
        {
            VirtBase = virtBase;
            KernelPfn = kernelPfn;
            KernelPages = kernelPages;
            RamdiskPfn = kernelPfn + kernelPages;
            RamdiskPages = ramdiskPages;
            P2mPfn = RamdiskPfn + ramdiskPages;
            P2mPages = (totalPages * 8 + PageSize - 1) / PageSize;
            StartInfoPfn = P2mPfn + P2mPages;
            StorePfn = StartInfoPfn + 1;
            ConsolePfn = StorePfn + 1;
            TablesPfn = ConsolePfn + 1;
            L3Tables = l3;
            L2Tables = l2;
            L1Tables = l1;
            StackPfn = TablesPfn + TableFrames;
            MappedEnd = mappedEnd;
        }

        public ulong TableFrames => 1 + L3Tables + L2Tables + L1Tables;

        public ulong MappedPages => (MappedEnd - VirtBase) / PageSize;

        public ulong VirtualAddress(ulong pfn) => VirtBase + pfn * PageSize;

        public bool IsPageTable(ulong pfn) => pfn >= TablesPfn && pfn < TablesPfn + TableFrames;

        /// <summary>
        /// Lays out a domain of totalPages pages whose kernel occupies [imageStart, imageEnd), with a ramdisk of
        /// ramdiskBytes (0 for none). The page-table
        /// count depends on the range they map, which includes them, so it is recomputed until it stops
        /// growing (as Xen's builder does).
        /// </summary>
        public static PvLayoutError TryCreate(ulong virtBase, ulong imageStart, ulong imageEnd, ulong ramdiskBytes, ulong totalPages, out PvLayout layout)
        {
            layout = default;
            if (imageStart < virtBase || imageStart % PageSize != 0 || imageEnd < imageStart || totalPages > (1UL << 40)) return PvLayoutError.ImageBelowVirtBase;
            if (ramdiskBytes > (1UL << 40)) return PvLayoutError.TooLittleMemory;
            ulong kernelPfn = (imageStart - virtBase) / PageSize;
            ulong kernelPages = (imageEnd - imageStart + PageSize - 1) / PageSize;
            ulong ramdiskPages = (ramdiskBytes + PageSize - 1) / PageSize;
            ulong l3 = 0, l2 = 0, l1 = 0;
            for (int round = 0; round < 8; round++)
            {
                var trial = new PvLayout(virtBase, kernelPfn, kernelPages, ramdiskPages, totalPages, l3, l2, l1, 0);
                ulong used = trial.StackPfn + 1;
                if (used > (ulong.MaxValue - virtBase) / PageSize / 2) return PvLayoutError.MappingOutsideGuestSpace;
                ulong end = RoundUp(virtBase + used * PageSize + Slack, Rounding);
                if (end < virtBase || !IsGuestRange(virtBase, end)) return PvLayoutError.MappingOutsideGuestSpace;
                ulong need3 = Span(virtBase, end, 39), need2 = Span(virtBase, end, 30), need1 = Span(virtBase, end, 21);
                if (need3 == l3 && need2 == l2 && need1 == l1)
                {
                    layout = new PvLayout(virtBase, kernelPfn, kernelPages, ramdiskPages, totalPages, l3, l2, l1, end);
                    return layout.MappedPages > totalPages ? PvLayoutError.TooLittleMemory : PvLayoutError.None;
                }
                l3 = need3; l2 = need2; l1 = need1;
            }
            return PvLayoutError.MappingOutsideGuestSpace;
        }

        /// <summary>How many tables of the level whose entries each cover 2^shift bytes the range [start, end) touches.</summary>
        private static ulong Span(ulong start, ulong end, int shift) => ((end - 1) >> shift) - (start >> shift) + 1;

        private static ulong RoundUp(ulong value, ulong unit) => value + (unit - 1) < value ? 0 : (value + unit - 1) / unit * unit;

        /// <summary>
        /// Canonical and clear of L4 slots 256-271 (0xFFFF800000000000-0xFFFF87FFFFFFFFFF), which are the
        /// hypervisor's (xen/include/public/arch-x86/xen-x86_64.h). [start, end) with end exclusive; end 0 means 2^64.
        /// </summary>
        public static bool IsGuestRange(ulong start, ulong end)
        {
            const ulong LowEnd = 0x0000_8000_0000_0000, HypervisorEnd = 0xFFFF_8800_0000_0000;
            if (end != 0 && end <= start) return false;
            if (end != 0 && end <= LowEnd) return true;
            return start >= HypervisorEnd;
        }
    }
}

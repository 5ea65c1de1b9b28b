namespace Keel.Kernel.Paging
{
    /// <summary>
    /// Bits of an x86-64 page-table entry (Intel SDM vol. 3A, 4.5, tables 4-14 to 4-20) and the rules of
    /// Xen's 64-bit PV MMU on which of them a guest may set, and which it gets whether it asks or not
    /// (xen/arch/x86/mm.c: base_disallow_mask, L1_DISALLOW_MASK, FASTPATH_*; xen/arch/x86/pv/mm.h:
    /// adjust_guest_l*e). Pure functions of an entry's value, so they are tested one by one.
    /// </summary>
    public static class EntryRules
    {
        public const ulong Present = 1UL << 0;
        public const ulong Writable = 1UL << 1;
        public const ulong User = 1UL << 2;
        public const ulong WriteThrough = 1UL << 3;
        public const ulong CacheDisable = 1UL << 4;
        public const ulong Accessed = 1UL << 5;
        public const ulong Dirty = 1UL << 6;

        /// <summary>Bit 7: PAT in an L1 entry, PS (a 2 MiB or 1 GiB page) in an L2 or L3 entry.</summary>
        public const ulong LargeOrPat = 1UL << 7;
        public const ulong Global = 1UL << 8;

        /// <summary>Bits 9-11, ignored by the processor: the guest's own.</summary>
        public const ulong Available = 0x7UL << 9;

        /// <summary>Bits 52-62, ignored by the processor (with protection keys off, as for every PV guest).</summary>
        public const ulong AvailableHigh = 0x7FFUL << 52;
        public const ulong NoExecute = 1UL << 63;

        /// <summary>Xen's _PAGE_GUEST_KERNEL (bit 52): marks an L1 entry the guest made for its kernel, which
        /// runs in ring 3 like its user space and so needs the user bit too.</summary>
        public const ulong GuestKernel = 1UL << 52;

        /// <summary>Bits 12-51: the frame. The rest are flags (Xen's 24-bit flag view: bits 0-11 and 52-63).</summary>
        public const ulong FrameMask = 0x000F_FFFF_FFFF_F000;
        public const ulong FlagMask = ~FrameMask;

        /// <summary>The memory-type bits of an L1 entry: they index the PAT (SDM vol. 3A, 12.12.3).</summary>
        public const ulong CacheAttributes = WriteThrough | CacheDisable | LargeOrPat;

        /// <summary>Xen's base_disallow_mask inverted: the flags a guest may set at any level.</summary>
        private const ulong AllowedEverywhere = Present | Writable | User | Accessed | Dirty | Available | AvailableHigh | NoExecute;

        /// <summary>Refused in L2-L4 entries: PWT, PCD, PS (XSA-148: no large pages) and G.</summary>
        public const ulong DisallowedUpper = FlagMask & ~AllowedEverywhere;

        /// <summary>Refused in L1 entries of a domain without I/O access: the memory-type bits. G is allowed.</summary>
        public const ulong DisallowedL1 = DisallowedUpper & ~Global;

        /// <summary>Flags an update may change without the entry being validated again: none of them affects
        /// which frame is reached, how it is cached, or whether it is writable. Excluding RW at L2-L4 too is
        /// what keeps a linear (read-only) entry from becoming writable (XSA-182).</summary>
        public const ulong FastPathFlags = NoExecute | AvailableHigh | Available | Global | Dirty | Accessed | User;

        /// <summary>The first and last L4 slots of the hypervisor (0xFFFF800000000000-0xFFFF87FFFFFFFFFF).</summary>
        public const int FirstHypervisorSlot = 256;
        public const int LastHypervisorSlot = 271;
        public const int HypervisorSlots = LastHypervisorSlot - FirstHypervisorSlot + 1;

        /// <summary>Slot 256 holds the read-only machine-to-physical table for guests (Xen's RO_MPT).</summary>
        public const int ReadOnlyM2pSlot = 256;

        /// <summary>Xen's INVALID_MFN as found in an entry: every frame bit set.</summary>
        public const ulong InvalidFrame = FrameMask >> 12;

        private const ulong HypervisorEnd = 0xFFFF_8800_0000_0000;

        public static bool IsPresent(ulong entry) => (entry & Present) != 0;

        public static bool IsWritable(ulong entry) => (entry & Writable) != 0;

        public static ulong FrameOf(ulong entry) => (entry & FrameMask) >> 12;

        /// <summary>The flags refused in an L1 entry; a domain with I/O access may choose memory types.</summary>
        public static ulong L1Disallowed(bool ioCapable) => ioCapable ? DisallowedL1 & ~CacheAttributes : DisallowedL1;

        /// <summary>Xen's l1e_has_changed with the fast-path whitelist: true if the frame, or any flag outside
        /// <see cref="FastPathFlags"/> (present included), differs.</summary>
        public static bool NeedsValidation(ulong oldEntry, ulong newEntry) =>
            ((oldEntry ^ newEntry) & ~FastPathFlags) != 0;

        public static bool IsGuestL4Slot(int slot) => slot < FirstHypervisorSlot || slot > LastHypervisorSlot;

        /// <summary>Xen's __addr_ok: the lower canonical half, or the upper half above the hypervisor's
        /// slots. Non-canonical addresses and the hypervisor's range are refused (XSA-279).</summary>
        public static bool IsGuestAddress(ulong va) => va < (1UL << 47) || va >= HypervisorEnd;

        public static bool IsCanonical(ulong va)
        {
            ulong top = va >> 47;
            return top == 0 || top == 0x1FFFF;
        }

        /// <summary>
        /// Xen's adjust_guest_l1e for 64-bit PV: the guest kernel runs in ring 3, so a mapping the guest made
        /// for its kernel (user bit clear) gets the user bit and the GuestKernel mark; a user mapping is made
        /// global, so it survives the switches between the guest's kernel and user tables.
        /// </summary>
        public static ulong AdjustL1(ulong entry)
        {
            if (!IsPresent(entry)) return entry;
            if ((entry & User) == 0) entry |= GuestKernel | User;
            if ((entry & GuestKernel) == 0) entry |= Global | User;
            return entry;
        }

        /// <summary>Xen's adjust_guest_l2e/l3e/l4e for 64-bit PV: the user bit, and at L4 the accessed bit
        /// (Xen sets it so it never has to sync hardware updates of it back).</summary>
        public static ulong AdjustUpper(ulong entry, int level)
        {
            if (!IsPresent(entry)) return entry;
            entry |= User;
            if (level == 4) entry |= Accessed;
            return entry;
        }

        /// <summary>
        /// An I/O mapping must not be cacheable (a cached access to device memory is undefined, SDM vol. 3A,
        /// 12.3): with Xen's PAT (WB, WT, UC-, UC, WC, WP, UC, UC; xen/include/public/xen.h) entries 0, 1 and
        /// 5 are cacheable and become UC (PCD | PWT); UC-, UC and WC stay. Keel programs Xen's PAT for PV
        /// guests, which pick memory types by these indices.
        /// </summary>
        public static ulong ForceUncacheable(ulong entry)
        {
            int index = ((entry & WriteThrough) != 0 ? 1 : 0) | ((entry & CacheDisable) != 0 ? 2 : 0) | ((entry & LargeOrPat) != 0 ? 4 : 0);
            bool cacheable = index == 0 || index == 1 || index == 5;
            return cacheable ? (entry & ~CacheAttributes) | CacheDisable | WriteThrough : entry;
        }

        /// <summary>The index of va's entry in its level's table (level 1 = L1 ... 4 = L4).</summary>
        public static int IndexOf(ulong va, int level) => (int)((va >> (12 + 9 * (level - 1))) & 511);
    }
}

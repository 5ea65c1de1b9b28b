namespace Keel.Kernel.Paging
{
    public enum TlbFlushKind : byte
    {
        None,

        /// <summary>One page's translation (INVLPG of <see cref="TlbFlush.Address"/>).</summary>
        Page,

        /// <summary>Every translation, global ones included (guest user mappings are global, see
        /// EntryRules.AdjustL1), with the paging-structure caches: toggle CR4.PGE or INVPCID type 2
        /// (SDM vol. 3A, 4.10.4.1).</summary>
        All,
    }

    /// <summary>
    /// What the caller must do to the TLBs and caches after a paging hypercall, before the guest runs
    /// again. The paging logic decides and the caller flushes, since only it reaches the machine. Flushing at
    /// the end of a batch instead of at each operation is equivalent: nothing in between reads guest memory
    /// through the guest's translations. Requests merge: two different pages become a full flush.
    /// </summary>
    public struct TlbFlush
    {
        public TlbFlushKind Kind;

        /// <summary>The linear address for <see cref="TlbFlushKind.Page"/>.</summary>
        public ulong Address;

        /// <summary>Also on every other CPU where one of the domain's vCPUs ran (Xen's dirty_cpumask),
        /// not just this one.</summary>
        public bool OtherVcpus;

        /// <summary>A table of this vCPU changed (NEW_BASEPTR, NEW_USER_BASEPTR): load CR3 again from the
        /// table for the vCPU's current mode.</summary>
        public bool ReloadBase;

        /// <summary>Write back and invalidate the caches (WBINVD), asked by an I/O-capable domain.</summary>
        public bool WriteBackCaches;

        public bool IsNone => Kind == TlbFlushKind.None && !ReloadBase && !WriteBackCaches;

        internal void AddPage(ulong va, bool otherVcpus)
        {
            OtherVcpus |= otherVcpus;
            if (Kind == TlbFlushKind.None)
            {
                Kind = TlbFlushKind.Page;
                Address = va;
            }
            else if (Kind == TlbFlushKind.Page && Address != va)
            {
                AddAll(otherVcpus);
            }
        }

        internal void AddAll(bool otherVcpus)
        {
            OtherVcpus |= otherVcpus;
            Kind = TlbFlushKind.All;
            Address = 0;
        }
    }
}

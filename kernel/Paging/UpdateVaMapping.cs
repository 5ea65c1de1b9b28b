using Keel.Ringlib.Xen;
using Keel.Kernel.Memory;

namespace Keel.Kernel.Paging
{
    /// <summary>update_va_mapping (hypercall 14; Xen's __do_update_va_mapping and map_guest_l1e).</summary>
    public sealed partial class DirectPaging<TMemory, TIo>
    {
        /// <summary>
        /// Replaces the L1 entry that maps <paramref name="va"/> in the vCPU's kernel tables (hypercalls come
        /// from guest kernel mode) with <paramref name="value"/>, checked as by mmu_update. -EINVAL for a
        /// non-canonical address or one in the hypervisor's range (XSA-279), when no L1 table covers the
        /// address, or when the table found is not a validated L1 of the domain; the entry's own errors
        /// otherwise. Only a successful update adds the flush <paramref name="flags"/> ask for; a vCPU mask
        /// pointer in the flags is taken as "every vCPU" (a superset) and is not read.
        /// </summary>
        public long UpdateVaMapping(ushort domain, in VcpuTables vcpu, ulong va, ulong value, ulong flags, ref TlbFlush flush)
        {
            long rc = UpdateVaEntry(domain, vcpu.KernelL4, va, value);
            AddRequiredFlush(ref flush);
            if (rc != 0) return rc;
            bool otherVcpus = (flags & ~UpdateVaFlags.FlushTypeMask) != UpdateVaFlags.Local;
            switch (flags & UpdateVaFlags.FlushTypeMask)
            {
                case UpdateVaFlags.TlbFlush:
                    flush.AddAll(otherVcpus);
                    break;
                case UpdateVaFlags.Invlpg:
                    flush.AddPage(va, otherVcpus);
                    break;
            }
            return 0;
        }

        private long UpdateVaEntry(ushort domain, ulong l4, ulong va, ulong value)
        {
            if (!EntryRules.IsGuestAddress(va)) return Errno.EINVAL;
            if (!TryFindL1(l4, va, out ulong l1)) return Errno.EINVAL;
            if (!_frames.TryGetReference(l1, domain)) return Errno.EINVAL;
            long rc = Errno.EINVAL;
            if (IsValidatedL1Of(domain, l1))
            {
                rc = ModifyL1(domain, l1, EntryRules.IndexOf(va, 1), value, false);
            }
            _frames.PutReference(l1);
            return rc;
        }

        /// <summary>The walk the processor would make from <paramref name="l4"/> down to the L1 for va
        /// (Xen reads the L2 entry through its linear mapping of the current tables).</summary>
        private bool TryFindL1(ulong l4, ulong va, out ulong l1)
        {
            l1 = 0;
            if (l4 == 0) return false;
            ulong table = l4;
            for (int level = 4; level >= 2; level--)
            {
                if (!_frames.Exists(table)) return false;
                ulong entry = Table(table)[EntryRules.IndexOf(va, level)];
                if (!EntryRules.IsPresent(entry) || (level <= 3 && (entry & EntryRules.LargeOrPat) != 0)) return false;
                table = EntryRules.FrameOf(entry);
            }
            l1 = table;
            return true;
        }
    }
}

using System;
using Keel.Ringlib.Xen;
using Keel.Kernel.Memory;

namespace Keel.Kernel.Paging
{
    /// <summary>mmu_update (hypercall 1; Xen's do_mmu_update, mod_l1_entry .. mod_l4_entry).</summary>
    public sealed partial class DirectPaging<TMemory, TIo>
    {
        /// <summary>
        /// Applies <paramref name="requests"/> in order, stopping at the first that fails; <paramref name="done"/>
        /// says how many succeeded. Each request is read once, so a guest rewriting the array meanwhile
        /// changes nothing. <paramref name="foreignDomain"/> must be DOMID_SELF (with 0 as the page-table
        /// owner in bits 16-31, or the caller's id + 1): the caller's own id -ESRCH, any other -EPERM, as Xen
        /// answers a domain without privilege over another. Returns 0 or the failing request's error; flushes
        /// owed go to <paramref name="flush"/>.
        /// </summary>
        public long MmuUpdate(ushort domain, ReadOnlySpan<MmuUpdateRequest> requests, uint foreignDomain,
                              out int done, ref TlbFlush flush)
        {
            done = 0;
            long rc = CheckForeignDomain(domain, foreignDomain);
            if (rc != 0) return rc;
            for (; done < requests.Length; done++)
            {
                MmuUpdateRequest request = requests[done];
                rc = ApplyUpdate(domain, request, ref flush);
                if (rc != 0) break;
            }
            AddRequiredFlush(ref flush);
            return rc;
        }

        private static long CheckForeignDomain(ushort domain, uint foreignDomain)
        {
            uint tableOwner = foreignDomain >> 16;
            if (tableOwner != 0 && tableOwner - 1 != domain) return Errno.EPERM;
            return CheckPageOwner(domain, (ushort)foreignDomain);
        }

        /// <summary>Xen's get_pg_owner, where only DOMID_SELF is supported so far.</summary>
        private static long CheckPageOwner(ushort domain, ushort pageOwner)
        {
            if (pageOwner == DomainIds.Self) return 0;
            return pageOwner == domain ? Errno.ESRCH : Errno.EPERM;
        }

        /// <summary>Unknown commands (4-7) are -ENOSYS.</summary>
        private long ApplyUpdate(ushort domain, MmuUpdateRequest request, ref TlbFlush flush)
        {
            uint command = (uint)(request.Ptr & 7);
            ulong address = request.Ptr - command;
            switch (command)
            {
                case MmuUpdateRequest.NormalPtUpdate:
                case MmuUpdateRequest.PtUpdateNoTranslate:
                    return UpdateEntry(domain, address, request.Val, false, ref flush);
                case MmuUpdateRequest.PtUpdatePreserveAd:
                    return UpdateEntry(domain, address, request.Val, true, ref flush);
                case MmuUpdateRequest.MachPhysUpdate:
                    return UpdateMachPhys(domain, request.Ptr, request.Val);
                default:
                    return Errno.ENOSYS;
            }
        }

        /// <summary>
        /// MMU_NORMAL_PT_UPDATE: <paramref name="address"/> is the machine address of an entry. In a
        /// validated table the new value is checked at the table's level; in a frame not typed as anything
        /// (or typed writable) the value is plain data and simply written, as Xen does. -EINVAL if the
        /// domain does not own the frame or it is typed otherwise (a table being built, a descriptor page).
        /// A change at L2-L4 asks for a flush of every vCPU, as Xen's flush_linear_pt.
        /// </summary>
        private long UpdateEntry(ushort domain, ulong address, ulong value, bool preserveAd, ref TlbFlush flush)
        {
            ulong mfn = address / FrameAllocator.FrameSize;
            int index = (int)((address % FrameAllocator.FrameSize) / sizeof(ulong));
            if (!_frames.TryGetReference(mfn, domain)) return Errno.EINVAL;
            long rc = UpdateEntryOfFrame(domain, mfn, index, value, preserveAd, ref flush);
            _frames.PutReference(mfn);
            return rc;
        }

        private long UpdateEntryOfFrame(ushort domain, ulong mfn, int index, ulong value, bool preserveAd, ref TlbFlush flush)
        {
            FrameInfo frame = _frames[mfn];
            if (frame.TypeCount == 0) return WriteData(mfn, index, value);
            if (frame.Type == PageType.Writable)
            {
                Table(mfn)[index] = value;
                return 0;
            }
            if (!FrameTable.IsTable(frame.Type) || !frame.IsValidated) return Errno.EINVAL;
            if (frame.Type == PageType.L1) return ModifyL1(domain, mfn, index, value, preserveAd);
            long rc = ModifyUpper(domain, mfn, (int)frame.Type, index, value, preserveAd);
            if (rc == 0) flush.AddAll(true);
            return rc;
        }

        /// <summary>A write to a frame in no typed use: it becomes writable-typed for the write's duration.</summary>
        private long WriteData(ulong mfn, int index, ulong value)
        {
            if (GetType(mfn, PageType.Writable) != 0) return Errno.EINVAL;
            Table(mfn)[index] = value;
            PutType(mfn);
            return 0;
        }

        /// <summary>
        /// Xen's mod_l1_entry. A change of fast-path flags only (<see cref="EntryRules.FastPathFlags"/>) is
        /// written as it is; anything else is validated as a new entry, whose references are taken before
        /// the old entry's are dropped (so remapping a frame never frees it in between). An entry mapping
        /// another domain's frame is the grant table's and is refused (-EINVAL).
        /// </summary>
        private long ModifyL1(ushort domain, ulong table, int index, ulong value, bool preserveAd)
        {
            Span<ulong> entries = Table(table);
            ulong old = entries[index];
            if (IsForeign(old, domain)) return Errno.EINVAL;
            if (EntryRules.IsPresent(value))
            {
                if ((value & EntryRules.L1Disallowed(_io.HasIoAccess(domain))) != 0) return Errno.EINVAL;
                value = EntryRules.AdjustL1(value);
                if (!EntryRules.NeedsValidation(old, value))
                {
                    Store(entries, index, old, value, preserveAd);
                    return 0;
                }
                long rc = GetL1Target(value, domain, out value);
                if (rc != 0) return rc;
            }
            Store(entries, index, old, value, preserveAd);
            PutL1Target(old);
            return 0;
        }

        /// <summary>Xen's mod_l2_entry .. mod_l4_entry: as <see cref="ModifyL1"/>; the hypervisor's L4 slots
        /// are refused with -EINVAL.</summary>
        private long ModifyUpper(ushort domain, ulong table, int level, int index, ulong value, bool preserveAd)
        {
            if (level == 4 && !EntryRules.IsGuestL4Slot(index)) return Errno.EINVAL;
            Span<ulong> entries = Table(table);
            ulong old = entries[index];
            if (EntryRules.IsPresent(value))
            {
                if ((value & EntryRules.DisallowedUpper) != 0) return Errno.EINVAL;
                value = EntryRules.AdjustUpper(value, level);
                if (!EntryRules.NeedsValidation(old, value))
                {
                    Store(entries, index, old, value, preserveAd);
                    return 0;
                }
                long rc = GetUpperTarget(value, table, level, domain);
                if (rc != 0) return rc;
            }
            Store(entries, index, old, value, preserveAd);
            PutUpperTarget(old, table);
            return 0;
        }

        /// <summary>MMU_PT_UPDATE_PRESERVE_AD keeps the accessed and dirty bits the processor set.</summary>
        private static void Store(Span<ulong> entries, int index, ulong old, ulong value, bool preserveAd)
        {
            entries[index] = preserveAd ? value | (old & (EntryRules.Accessed | EntryRules.Dirty)) : value;
        }

        /// <summary>MMU_MACHPHYS_UPDATE: records pfn <paramref name="value"/> for the frame at
        /// <paramref name="address"/> in the M2P; -EINVAL unless the domain owns the frame (and the M2P
        /// covers it).</summary>
        private long UpdateMachPhys(ushort domain, ulong address, ulong value)
        {
            ulong mfn = address / FrameAllocator.FrameSize;
            if (!_frames.TryGetReference(mfn, domain)) return Errno.EINVAL;
            long rc = Errno.EINVAL;
            ulong page = mfn / 512;
            if (page < (ulong)_machineToPhysical.Length)
            {
                Table(_machineToPhysical[page])[(int)(mfn % 512)] = value;
                rc = 0;
            }
            _frames.PutReference(mfn);
            return rc;
        }
    }
}

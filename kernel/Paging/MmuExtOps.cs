using System;
using Keel.Ringlib.Xen;
using Keel.Kernel.Memory;

namespace Keel.Kernel.Paging
{
    /// <summary>mmuext_op (hypercall 26; Xen's do_mmuext_op and new_guest_cr3).</summary>
    public sealed partial class DirectPaging<TMemory, TIo>
    {
        /// <summary>
        /// Applies <paramref name="ops"/> in order for the vCPU whose tables are <paramref name="vcpu"/>,
        /// stopping at the first failure; <paramref name="done"/> counts those that succeeded. Each op is
        /// read once. <paramref name="foreignDomain"/> as for <see cref="MmuUpdate"/> (DOMID_SELF only).
        /// Unknown commands, and SET_LDT (not supported yet), are -ENOSYS; MARK_SUPER/UNMARK_SUPER
        /// -EOPNOTSUPP as in Xen.
        /// </summary>
        public long MmuExtOp(ushort domain, ref VcpuTables vcpu, ReadOnlySpan<MmuExtRequest> ops, uint foreignDomain,
                            out int done, ref TlbFlush flush)
        {
            done = 0;
            long rc = CheckPageOwner(domain, (ushort)foreignDomain);
            if (rc != 0) return rc;
            for (; done < ops.Length; done++)
            {
                MmuExtRequest op = ops[done];
                rc = ApplyExtOp(domain, ref vcpu, op, ref flush);
                if (rc != 0) break;
            }
            AddRequiredFlush(ref flush);
            return rc;
        }

        private long ApplyExtOp(ushort domain, ref VcpuTables vcpu, MmuExtRequest op, ref TlbFlush flush)
        {
            switch (op.Cmd)
            {
                case MmuExtRequest.PinL1Table:
                case MmuExtRequest.PinL2Table:
                case MmuExtRequest.PinL3Table:
                case MmuExtRequest.PinL4Table:
                    return PinTable(domain, op.Arg1, (PageType)(op.Cmd - MmuExtRequest.PinL1Table + 1));
                case MmuExtRequest.UnpinTable:
                    return UnpinTable(domain, op.Arg1);
                case MmuExtRequest.NewBaseptr:
                    return NewBasePointer(domain, ref vcpu, op.Arg1, ref flush);
                case MmuExtRequest.NewUserBaseptr:
                    return NewUserBasePointer(domain, ref vcpu, op.Arg1);
                case MmuExtRequest.ClearPage:
                    return ClearPage(domain, op.Arg1);
                case MmuExtRequest.CopyPage:
                    return CopyPage(domain, op.Arg1, op.Arg2);
                case MmuExtRequest.FlushCache:
                case MmuExtRequest.FlushCacheGlobal:
                    if (!_io.HasIoAccess(domain)) return Errno.EACCES;
                    flush.WriteBackCaches = true;
                    return 0;
                case MmuExtRequest.MarkSuper:
                case MmuExtRequest.UnmarkSuper:
                    return Errno.EOPNOTSUPP;
                default:
                    return RequestTlbFlush(op, ref flush);
            }
        }

        /// <summary>
        /// The flush commands, answered as on one CPU: LOCAL flushes this vCPU, MULTI and ALL every vCPU of
        /// the domain (MULTI's vCPU mask is not read: flushing all of them is a superset). An INVLPG of a
        /// non-canonical (LOCAL) or non-guest (MULTI, ALL) address does nothing, as in Xen.
        /// </summary>
        private static long RequestTlbFlush(MmuExtRequest op, ref TlbFlush flush)
        {
            switch (op.Cmd)
            {
                case MmuExtRequest.TlbFlushLocal:
                    flush.AddAll(false);
                    return 0;
                case MmuExtRequest.TlbFlushMulti:
                case MmuExtRequest.TlbFlushAll:
                    flush.AddAll(true);
                    return 0;
                case MmuExtRequest.InvlpgLocal:
                    if (EntryRules.IsCanonical(op.Arg1)) flush.AddPage(op.Arg1, false);
                    return 0;
                case MmuExtRequest.InvlpgMulti:
                case MmuExtRequest.InvlpgAll:
                    if (EntryRules.IsGuestAddress(op.Arg1)) flush.AddPage(op.Arg1, true);
                    return 0;
                default:
                    return Errno.ENOSYS;
            }
        }

        /// <summary>
        /// MMUEXT_PIN_L*_TABLE: a type reference (validating the table on first use) and a general one, held
        /// until unpinned or teardown. -EINVAL if the domain does not own the frame, it has another type, or
        /// it is pinned already (pins do not nest); a validation failure's own error otherwise. The domain
        /// builder pins the L4 it built with this, which validates the whole tree.
        /// </summary>
        public long PinTable(ushort domain, ulong mfn, PageType level)
        {
            if (!FrameTable.IsTable(level)) return Errno.EINVAL;
            if (!_frames.TryGetReference(mfn, domain)) return Errno.EINVAL;
            long rc = GetType(mfn, level);
            if (rc != 0)
            {
                _frames.PutReference(mfn);
                return rc;
            }
            if (_frames.TrySetPinned(mfn)) return 0;
            PutTypedReference(mfn);
            return Errno.EINVAL;
        }

        /// <summary>MMUEXT_UNPIN_TABLE: -EINVAL if the domain does not own the frame or it is not pinned.</summary>
        public long UnpinTable(ushort domain, ulong mfn)
        {
            if (!_frames.TryGetReference(mfn, domain)) return Errno.EINVAL;
            if (!_frames.TryClearPinned(mfn))
            {
                _frames.PutReference(mfn);
                return Errno.EINVAL;
            }
            PutTypedReference(mfn);
            _frames.PutReference(mfn);
            return 0;
        }

        /// <summary>
        /// MMUEXT_NEW_BASEPTR: the vCPU's kernel L4 becomes <paramref name="mfn"/>, which takes an L4 type
        /// reference (validating it on first use); the old one's is dropped after. -EINVAL if the domain does
        /// not own the frame or it has another type; a validation failure's error otherwise. The same table
        /// again is 0 with no change but a reload, as Xen's.
        /// </summary>
        public long NewBasePointer(ushort domain, ref VcpuTables vcpu, ulong mfn, ref TlbFlush flush)
        {
            if (mfn != vcpu.KernelL4)
            {
                long rc = GetTypedReference(mfn, PageType.L4, domain);
                if (rc != 0) return rc;
                ulong old = vcpu.KernelL4;
                vcpu.KernelL4 = mfn;
                if (old != 0) PutTypedReference(old);
            }
            flush.ReloadBase = true;
            return 0;
        }

        /// <summary>
        /// MMUEXT_NEW_USER_BASEPTR: the L4 for guest user mode, 0 for none; errors as
        /// <see cref="NewBasePointer"/>. The read-only M2P (slot 256) is removed from a user table, as Xen
        /// does for guests with VMASST_TYPE_m2p_strict, so the guest's user space never sees machine frames.
        /// </summary>
        public long NewUserBasePointer(ushort domain, ref VcpuTables vcpu, ulong mfn)
        {
            ulong old = vcpu.UserL4;
            if (mfn == old) return 0;
            if (mfn != 0)
            {
                long rc = GetTypedReference(mfn, PageType.L4, domain);
                if (rc != 0) return rc;
                Table(mfn)[EntryRules.ReadOnlyM2pSlot] = 0;
            }
            vcpu.UserL4 = mfn;
            if (old != 0) PutTypedReference(old);
            return 0;
        }

        /// <summary>MMUEXT_CLEAR_PAGE: -EINVAL unless the domain owns the frame and it can be writable.</summary>
        private long ClearPage(ushort domain, ulong mfn)
        {
            if (!_frames.TryGetReference(mfn, domain)) return Errno.EINVAL;
            if (GetType(mfn, PageType.Writable) != 0)
            {
                _frames.PutReference(mfn);
                return Errno.EINVAL;
            }
            Table(mfn).Clear();
            PutTypedReference(mfn);
            return 0;
        }

        /// <summary>MMUEXT_COPY_PAGE: -EINVAL unless the domain owns both and the destination can be writable.</summary>
        private long CopyPage(ushort domain, ulong destination, ulong source)
        {
            if (!_frames.TryGetReference(source, domain)) return Errno.EINVAL;
            long rc = GetTypedReference(destination, PageType.Writable, domain);
            if (rc == 0)
            {
                Table(source).CopyTo(Table(destination));
                PutTypedReference(destination);
            }
            _frames.PutReference(source);
            return rc == 0 ? 0 : Errno.EINVAL;
        }
    }
}

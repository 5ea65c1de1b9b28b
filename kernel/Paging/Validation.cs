using System;
using Keel.Ringlib.Xen;
using Keel.Kernel.Memory;

namespace Keel.Kernel.Paging
{
    /// <summary>
    /// Promotion and demotion of tables, and the references one entry takes and drops (Xen's
    /// get_page_from_l1e..l4e, put_page_from_l1e..l4e, promote_l*_table, demote_l*_table). Recursion is
    /// bounded: a table's entries only take types of the level below (or, linear, its own level on a table
    /// already validated), so promotion and demotion go at most five frames deep.
    /// </summary>
    public sealed partial class DirectPaging<TMemory, TIo>
    {
        /// <summary>The first use of a frame as a table: every present entry is checked and takes its
        /// references, and entries get the bits Xen adds. On failure the references taken are dropped.</summary>
        private long Promote(ulong mfn, PageType type)
        {
            ushort owner = _frames.OwnerOf(mfn);
            Span<ulong> entries = Table(mfn);
            if (type == PageType.L1) return PromoteL1(entries, owner);
            if (!FrameTable.IsTable(type)) return Errno.EINVAL;
            long rc = PromoteUpper(mfn, entries, (int)type, owner);
            if (rc == 0 && type == PageType.L4) FillHypervisorSlots(entries);
            return rc;
        }

        private long PromoteL1(Span<ulong> entries, ushort owner)
        {
            for (int i = 0; i < entries.Length; i++)
            {
                if (!EntryRules.IsPresent(entries[i])) continue;
                long rc = GetL1Target(entries[i], owner, out ulong adjusted);
                if (rc != 0)
                {
                    for (int j = 0; j < i; j++) PutL1Target(entries[j]);
                    return rc;
                }
                entries[i] = adjusted;
            }
            return 0;
        }

        /// <summary>Guest values in the hypervisor's L4 slots are ignored, then overwritten.</summary>
        private long PromoteUpper(ulong mfn, Span<ulong> entries, int level, ushort owner)
        {
            for (int i = 0; i < entries.Length; i++)
            {
                if (level == 4 && !EntryRules.IsGuestL4Slot(i)) continue;
                if (!EntryRules.IsPresent(entries[i])) continue;
                long rc = GetUpperTarget(entries[i], mfn, level, owner);
                if (rc != 0)
                {
                    DemoteUpper(mfn, entries.Slice(0, i), level);
                    return rc;
                }
                entries[i] = EntryRules.AdjustUpper(entries[i], level);
            }
            return 0;
        }

        private void FillHypervisorSlots(Span<ulong> entries)
        {
            for (int i = 0; i < _hypervisorSlots.Length; i++) entries[EntryRules.FirstHypervisorSlot + i] = _hypervisorSlots[i];
        }

        /// <summary>The last type reference went: every entry drops what it held. The entries stay as they
        /// are; the frame is simply no longer trusted as a table.</summary>
        private void Demote(ulong mfn, PageType type)
        {
            Span<ulong> entries = Table(mfn);
            if (type == PageType.L1)
            {
                for (int i = 0; i < entries.Length; i++) PutDemotedL1Entry(mfn, i, entries[i]);
                return;
            }
            DemoteUpper(mfn, entries, (int)type);
        }

        private void DemoteUpper(ulong mfn, Span<ulong> entries, int level)
        {
            for (int i = 0; i < entries.Length; i++)
            {
                if (level == 4 && !EntryRules.IsGuestL4Slot(i)) continue;
                PutUpperTarget(entries[i], mfn);
            }
        }

        /// <summary>
        /// Xen's get_page_from_l1e for a present entry: -EINVAL for refused flags, -EBUSY for a frame of
        /// another domain (or free, or the hypervisor's) or a writable mapping of a frame typed otherwise
        /// (a table), I/O memory per <see cref="GetIoMapping"/>. On success the entry to store.
        /// </summary>
        private long GetL1Target(ulong entry, ushort domain, out ulong adjusted)
        {
            adjusted = entry;
            if ((entry & EntryRules.L1Disallowed(_io.HasIoAccess(domain))) != 0) return Errno.EINVAL;
            ulong target = EntryRules.FrameOf(entry);
            if (_frames.OwnerOf(target) == DomainIds.Io) return GetIoMapping(entry, domain, out adjusted);
            if (!_frames.TryGetReference(target, domain)) return Errno.EBUSY;
            if (EntryRules.IsWritable(entry) && GetType(target, PageType.Writable) != 0)
            {
                _frames.PutReference(target);
                return Errno.EBUSY;
            }
            adjusted = EntryRules.AdjustL1(entry);
            return 0;
        }

        /// <summary>I/O memory (outside the frame table, or given to DOMID_IO) takes no references and needs
        /// the domain's permission: -EPERM without it (-EINVAL for INVALID_MFN, as Xen). Made uncacheable.</summary>
        private long GetIoMapping(ulong entry, ushort domain, out ulong adjusted)
        {
            adjusted = entry;
            ulong target = EntryRules.FrameOf(entry);
            if (!_io.MayMapIo(domain, target)) return target == EntryRules.InvalidFrame ? Errno.EINVAL : Errno.EPERM;
            adjusted = EntryRules.AdjustL1(EntryRules.ForceUncacheable(entry));
            return 0;
        }

        private void PutL1Target(ulong entry)
        {
            if (!EntryRules.IsPresent(entry)) return;
            ulong target = EntryRules.FrameOf(entry);
            if (_frames.OwnerOf(target) == DomainIds.Io) return;
            if (EntryRules.IsWritable(entry)) PutType(target);
            _frames.PutReference(target);
        }

        /// <summary>
        /// Xen's get_page_from_l2e/l3e/l4e for a present entry of a table at <paramref name="level"/>:
        /// -EINVAL for refused flags (PSE among them: XSA-148) or a target that is not the domain's table of
        /// the level below and not an acceptable linear entry; a failing validation's error otherwise.
        /// </summary>
        private long GetUpperTarget(ulong entry, ulong table, int level, ushort domain)
        {
            if ((entry & EntryRules.DisallowedUpper) != 0) return Errno.EINVAL;
            ulong target = EntryRules.FrameOf(entry);
            long rc = GetTypedReference(target, (PageType)(level - 1), domain);
            if (rc == Errno.EINVAL && TryGetLinear(entry, target, table, level, domain)) rc = 0;
            return rc;
        }

        /// <summary>
        /// Xen's get_l*_linear_pagetable: an entry pointing to a table of its own level, which lets a guest
        /// read its tables through its own mappings. Only read-only (else the guest could write its own
        /// entries), only to a table already validated (never one whose validation is in progress), and one
        /// level deep: the table holding such entries may not be the target of one, and the reverse (XSA-240).
        /// An entry pointing to its own table takes no reference, so a table can map itself.
        /// </summary>
        private bool TryGetLinear(ulong entry, ulong target, ulong table, int level, ushort domain)
        {
            if (EntryRules.IsWritable(entry)) return false;
            if (target == table) return true;
            if (_frames.OwnerOf(table) != domain || !_frames.TryGetReference(target, domain)) return false;
            if (_frames.TryAddLinearEntry(table))
            {
                if (_frames.TryAddLinearUse(target))
                {
                    if (_frames.TryAddValidatedTypeReference(target, (PageType)level)) return true;
                    _frames.RemoveLinearUse(target);
                }
                _frames.RemoveLinearEntry(table);
            }
            _frames.PutReference(target);
            return false;
        }

        /// <summary>Xen's put_page_from_l2e/l3e/l4e: a target of the table's own type was a linear entry.</summary>
        private void PutUpperTarget(ulong entry, ulong table)
        {
            if (!EntryRules.IsPresent(entry)) return;
            ulong target = EntryRules.FrameOf(entry);
            if (target == table) return;
            if (_frames.TypeOf(target) == _frames.TypeOf(table))
            {
                _frames.RemoveLinearUse(target);
                _frames.RemoveLinearEntry(table);
            }
            PutTypedReference(target);
        }
    }
}

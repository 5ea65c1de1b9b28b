using System;
using Keel.Ringlib.Xen;
using Keel.Kernel.Memory;

namespace Keel.Kernel.Paging
{
    /// <summary>Told when a mapping of another domain's frame leaves a table other than through
    /// <see cref="DirectPaging{TMemory, TIo}.UnmapForeign"/>: the table holding it stopped being an L1 (the
    /// guest dropped or unpinned it, or its domain is being torn down). The entry's references are already
    /// dropped; the observer forgets the mapping. It must not call back into paging. (A class, not an
    /// interface: the kernel's runtime dispatches virtual calls but not interface calls.)</summary>
    public abstract class ForeignEntryObserver
    {
        public abstract void ForeignEntryDropped(ushort mapper, ulong table, int index, ulong entry);
    }

    /// <summary>
    /// Mappings of another domain's frames, which only the grant table makes (Xen's create_grant_pv_mapping
    /// and replace_grant_pv_mapping, xen/arch/x86/pv/grant_table.c). Such an entry holds the same references
    /// as any L1 entry (a general reference on the frame, and a writable type reference if it is writable),
    /// so the frame outlives its owner while mapped, and a writable-mapped frame can never become a table.
    ///
    /// A guest cannot make one itself: <see cref="GetL1Target"/> refuses a frame of another domain. Nor can it
    /// overwrite one (mmu_update and update_va_mapping refuse an entry whose old value is foreign, where Xen
    /// would crash the domain): it is removed by unmap_grant_ref, or with its table, and then the observer hears.
    /// </summary>
    public sealed partial class DirectPaging<TMemory, TIo>
    {
        private ForeignEntryObserver _foreignObserver;

        /// <summary>Who hears of foreign entries leaving with their table (the grant tables).</summary>
        public void ObserveForeignEntries(ForeignEntryObserver observer) => _foreignObserver = observer;

        /// <summary>A present L1 entry of a table of <paramref name="tableOwner"/> that maps a frame of another domain.</summary>
        private bool IsForeign(ulong entry, ushort tableOwner)
        {
            if (!EntryRules.IsPresent(entry)) return false;
            ushort owner = _frames.OwnerOf(EntryRules.FrameOf(entry));
            return owner != tableOwner && owner != DomainIds.Io;
        }

        /// <summary>
        /// Maps <paramref name="frame"/> of <paramref name="granter"/> at <paramref name="va"/> in the mapper's
        /// kernel tables, replacing whatever own-frame entry was there. The entry is present, accessed, dirty,
        /// not executable, writable if asked, and a guest-kernel mapping unless <paramref name="user"/> (Xen's
        /// GRANT_PTE_FLAGS, then adjust_guest_l1e). False, with nothing changed, when no validated L1 of the
        /// mapper covers va, a foreign mapping is there already, the frame is not the granter's, or it cannot
        /// be mapped writable (it is a table). On success the table and index of the entry, and a flush of va.
        /// </summary>
        public bool MapForeign(ushort mapper, ulong kernelL4, ulong va, ulong frame, ushort granter, bool writable, bool user,
                               out ulong table, out int index, ref TlbFlush flush)
        {
            index = 0;
            if (!FindMapperL1(mapper, kernelL4, va, out table)) return false;
            index = EntryRules.IndexOf(va, 1);
            Span<ulong> entries = Table(table);
            ulong old = entries[index];
            if (IsForeign(old, mapper)) return false;
            if (!_frames.TryGetReference(frame, granter)) return false;
            if (writable && GetType(frame, PageType.Writable) != 0)
            {
                _frames.PutReference(frame);
                return false;
            }
            ulong entry = frame << 12 | EntryRules.Present | EntryRules.Accessed | EntryRules.Dirty | EntryRules.NoExecute;
            if (writable) entry |= EntryRules.Writable;
            if (user) entry |= EntryRules.User;
            entries[index] = EntryRules.AdjustL1(entry);
            PutL1Target(old);
            if (EntryRules.IsPresent(old)) flush.AddPage(va, true);
            AddRequiredFlush(ref flush);
            return true;
        }

        /// <summary>The L1 entry a walk of the mapper's kernel tables reaches for va, if that table is a
        /// validated L1 of the mapper.</summary>
        public bool FindMapperL1(ushort mapper, ulong kernelL4, ulong va, out ulong table)
        {
            table = 0;
            return EntryRules.IsGuestAddress(va) && TryFindL1(kernelL4, va, out table) && IsValidatedL1Of(mapper, table);
        }

        /// <summary>Whether the frame is an L1 of the domain in use and validated, so its entries may be changed
        /// (a frame outside the frame table reads as I/O memory, which no domain owns as a table).</summary>
        private bool IsValidatedL1Of(ushort domain, ulong table)
        {
            FrameInfo info = _frames[table];
            return info.Owner == domain && info.Type == PageType.L1 && info.TypeCount != 0 && info.IsValidated;
        }

        /// <summary>
        /// Removes a foreign mapping made by <see cref="MapForeign"/>: the entry at (table, index) is cleared and
        /// its references dropped, with a flush of every vCPU (the mapping may be cached anywhere). False, with
        /// nothing changed, if that entry no longer maps <paramref name="frame"/> from a validated L1 of the mapper.
        /// </summary>
        public bool UnmapForeign(ushort mapper, ulong table, int index, ulong frame, ref TlbFlush flush)
        {
            if ((uint)index >= 512 || !IsValidatedL1Of(mapper, table)) return false;
            Span<ulong> entries = Table(table);
            ulong old = entries[index];
            if (!IsForeign(old, mapper) || EntryRules.FrameOf(old) != frame) return false;
            entries[index] = 0;
            PutL1Target(old);
            flush.AddAll(true);
            AddRequiredFlush(ref flush);
            return true;
        }

        /// <summary>
        /// A reference held on a frame of <paramref name="owner"/> without mapping it (a device mapping of a
        /// grant, or a frame written for the duration of a grant copy): with <paramref name="writable"/> also a
        /// writable type reference, which a table refuses. False, with nothing taken, if the frame is not the
        /// owner's or cannot be writable.
        /// </summary>
        public bool HoldFrame(ushort owner, ulong frame, bool writable)
        {
            if (!_frames.TryGetReference(frame, owner)) return false;
            if (writable && GetType(frame, PageType.Writable) != 0)
            {
                _frames.PutReference(frame);
                return false;
            }
            return true;
        }

        /// <summary>Lets go of what <see cref="HoldFrame"/> took; the frame is freed if that was the last reference.</summary>
        public void ReleaseHeldFrame(ulong frame, bool writable, ref TlbFlush flush)
        {
            if (writable) PutType(frame);
            _frames.PutReference(frame);
            AddRequiredFlush(ref flush);
        }

        /// <summary>An L1 being demoted drops entry <paramref name="index"/>; a foreign one is reported.</summary>
        private void PutDemotedL1Entry(ulong table, int index, ulong entry)
        {
            ushort owner = _frames.OwnerOf(table);
            bool foreign = IsForeign(entry, owner);
            PutL1Target(entry);
            if (foreign) _foreignObserver?.ForeignEntryDropped(owner, table, index, entry);
        }
    }
}

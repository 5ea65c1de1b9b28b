using System;
using Keel.Ringlib.Xen;
using Keel.Kernel.Memory;

namespace Keel.Kernel.Paging
{
    /// <summary>
    /// Direct paging, the PV MMU of Xen (xen/arch/x86/mm.c, pv/mm.c): a 64-bit PV guest builds and edits its
    /// own page tables, which the processor walks as they are, and the hypervisor keeps them safe by
    /// checking every entry before it is used.
    ///
    /// The guarantees, for every domain however hostile, after every operation:
    /// - a frame typed as a page table (or descriptor page) is mapped writable by no L1 entry anywhere, and
    ///   a frame mapped writable is never used as a table (the frame table's one type at a time);
    /// - every present entry of a validated table passes the rules of <see cref="EntryRules"/> and points
    ///   to a frame of the table's own domain: L4 to an L3, L3 to an L2, L2 to an L1 (or, read-only, to a
    ///   table of its own level that holds no such entries itself: XSA-240), and L1 to a frame of the
    ///   domain or I/O memory the domain may map;
    /// - every such entry holds a general reference on its target, and a type reference too when it uses
    ///   the target as a table or maps it writable, so nothing in use is freed or changes type;
    /// - the hypervisor's L4 slots (256-271) hold the kernel's template, never guest values.
    ///
    /// Operations check all they can before changing anything; an operation that must take references to
    /// know (validating a new entry) takes them first, and drops the old entry's only once the new one is
    /// in place. Batches stop at the first failure and report how many entries were done, as Xen's do.
    /// Errors are Xen's negative errno values, never exceptions: nothing a domain passes can stop the
    /// machine. Single-threaded: the caller runs one operation at a time (one CPU, or a lock around all).
    /// </summary>
    public sealed partial class DirectPaging<TMemory, TIo>
        where TMemory : struct, IPhysicalMemory
        where TIo : struct, IIoPermissions
    {
        private readonly FrameTable _frames;
        private readonly ulong[] _hypervisorSlots = new ulong[EntryRules.HypervisorSlots];
        private readonly ulong[] _machineToPhysical;
        private TMemory _memory;
        private TIo _io;

        /// <summary>
        /// <paramref name="hypervisorSlots"/> are the entries for L4 slots 256-271 that every guest L4 gets
        /// when promoted (Xen's init_xen_l4_slots): [0] the read-only M2P, the rest the hypervisor's own
        /// mappings, supervisor-only. Entries past the 16th are ignored; missing ones are empty.
        /// <paramref name="machineToPhysicalFrames"/> are the frames of the M2P table in order, 512 entries
        /// each (entry = the pfn of an MFN), which MMU_MACHPHYS_UPDATE writes.
        /// </summary>
        public DirectPaging(FrameTable frames, TMemory memory, TIo io, ReadOnlySpan<ulong> hypervisorSlots,
                            ReadOnlySpan<ulong> machineToPhysicalFrames)
        {
            _frames = frames;
            _memory = memory;
            _io = io;
            for (int i = 0; i < _hypervisorSlots.Length && i < hypervisorSlots.Length; i++)
            {
                _hypervisorSlots[i] = hypervisorSlots[i];
            }
            _machineToPhysical = machineToPhysicalFrames.ToArray();
        }

        public FrameTable Frames => _frames;

        /// <summary>
        /// Domain builder: a zeroed frame for the domain, within its quota. Errors as
        /// <see cref="FrameTable.AllocateFor"/>: -E2BIG over quota, -ENOMEM with no frame free.
        /// </summary>
        public long AllocateFrame(ushort domain, out ulong mfn)
        {
            long rc = _frames.AllocateFor(domain, out mfn);
            if (rc == 0) Table(mfn).Clear();
            return rc;
        }

        /// <summary>
        /// A zeroed frame of the domain that the kernel writes for the domain's life (shared_info, grant-table
        /// frames; Xen keeps these on its own heap and shares them with the guest). The kernel holds a general
        /// reference, so the guest giving the frame back cannot free it, and a writable type reference, so the
        /// guest can map it writable but never make it a table whose entries the kernel's writes would change
        /// behind validation's back. Errors as <see cref="AllocateFrame"/>.
        /// </summary>
        public long AllocateSharedFrame(ushort domain, out ulong mfn)
        {
            long rc = AllocateFrame(domain, out mfn);
            if (rc != 0) return rc;
            _frames.TryGetReference(mfn, domain);
            GetType(mfn, PageType.Writable);
            return 0;
        }

        /// <summary>The kernel lets go of a frame from <see cref="AllocateSharedFrame"/>; it is freed once its owner released it too and nothing maps it.</summary>
        public void ReleaseSharedFrame(ulong mfn, ref TlbFlush flush)
        {
            PutTypedReference(mfn);
            AddRequiredFlush(ref flush);
        }

        /// <summary>
        /// The domain gives a frame back (decrease_reservation): it is freed once nothing references it,
        /// which may be now; a free adds a full flush to <paramref name="flush"/>, since the domain may
        /// still hold translations of the frame. -EINVAL if the domain does not own it or gave it back already.
        /// </summary>
        public long ReleaseFrame(ushort domain, ulong mfn, ref TlbFlush flush)
        {
            long rc = _frames.ReleaseByOwner(domain, mfn);
            AddRequiredFlush(ref flush);
            return rc;
        }

        /// <summary>
        /// Domain builder only: writes an entry of a future table without checking it, as Xen's builder
        /// fills the initial tables before pinning the L4 checks them all. Allowed only while the frame is
        /// the domain's and not in use as anything typed (type count 0), which is when the guest could write
        /// it itself too. -EINVAL for a bad index or a frame the domain does not own, -EBUSY if typed.
        /// </summary>
        public long WriteInitialEntry(ushort domain, ulong tableMfn, int index, ulong entry)
        {
            if ((uint)index >= 512) return Errno.EINVAL;
            FrameInfo frame = _frames[tableMfn];
            if (frame.Owner != domain || frame.ReferenceCount == 0) return Errno.EINVAL;
            if (frame.TypeCount != 0) return Errno.EBUSY;
            Table(tableMfn)[index] = entry;
            return 0;
        }

        private Span<ulong> Table(ulong mfn) => _memory.Table(mfn * FrameAllocator.FrameSize);

        /// <summary>Xen's get_page_and_type_from_mfn: a general and a type reference, validating the frame
        /// if this is its first use as that type. -EINVAL if the domain does not own it or it has another
        /// type; a validation failure's own error otherwise.</summary>
        private long GetTypedReference(ulong mfn, PageType type, ushort domain)
        {
            if (!_frames.TryGetReference(mfn, domain)) return Errno.EINVAL;
            long rc = GetType(mfn, type);
            if (rc != 0) _frames.PutReference(mfn);
            return rc;
        }

        private long GetType(ulong mfn, PageType type)
        {
            TypeReference taken = _frames.BeginTypeReference(mfn, type);
            if (taken == TypeReference.Taken) return 0;
            if (taken == TypeReference.Refused) return Errno.EINVAL;
            long rc = Promote(mfn, type);
            _frames.EndValidation(mfn, rc == 0);
            return rc;
        }

        private void PutTypedReference(ulong mfn)
        {
            PutType(mfn);
            _frames.PutReference(mfn);
        }

        private void PutType(ulong mfn)
        {
            PageType type = _frames.TypeOf(mfn);
            if (_frames.DropTypeReference(mfn)) Demote(mfn, type);
        }

        private void AddRequiredFlush(ref TlbFlush flush)
        {
            if (_frames.TakeFlushRequirement()) flush.AddAll(true);
        }
    }
}

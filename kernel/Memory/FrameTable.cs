using System.Runtime.InteropServices;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Memory
{
    /// <summary>
    /// What a frame is used as (Xen's PGT_* types, xen/arch/x86/include/asm/mm.h; the numbers are Xen's).
    /// A frame holds one type at a time, and the type changes only while its type count is 0, so a frame
    /// can never be a page table and writable-mapped at once.
    /// </summary>
    public enum PageType : byte
    {
        None = 0,
        L1 = 1,
        L2 = 2,
        L3 = 3,
        L4 = 4,
        SegmentDescriptor = 5,
        Writable = 7,
    }

    [System.Flags]
    internal enum FrameState : byte
    {
        None = 0,

        /// <summary>The owner still holds its allocation reference (Xen's PGC_allocated).</summary>
        Allocated = 1 << 0,

        /// <summary>A table type whose entries have all been checked and hold their references.</summary>
        Validated = 1 << 1,

        /// <summary>The guest pinned the type (holds one type and one general reference).</summary>
        Pinned = 1 << 2,

        /// <summary>The type count fell to 0 since the last TLB flush: a TLB may still hold a mapping
        /// (or a paging-structure cache an entry) from the old use, so changing the type needs a flush
        /// first (Xen: tlbflush_timestamp checked in _get_page_type).</summary>
        Stale = 1 << 3,
    }

    /// <summary>
    /// One frame's bookkeeping, 16 bytes (Xen's struct page_info is 32). Fields are changed only by
    /// <see cref="FrameTable"/>; the properties let tests and diagnostics read them.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct FrameInfo
    {
        internal uint References;
        internal uint TypeReferences;
        internal ushort OwnerId;

        /// <summary>Xen's linear_pt_count: above 0, how many same-level ("linear") entries this table holds;
        /// below 0, how many such entries in other tables point at it. Never both (XSA-240).</summary>
        internal short Linear;
        internal PageType TypeValue;
        internal FrameState State;

        public uint ReferenceCount => References;
        public uint TypeCount => TypeReferences;
        public ushort Owner => OwnerId;
        public PageType Type => TypeValue;
        public short LinearCount => Linear;
        public bool IsAllocated => (State & FrameState.Allocated) != 0;
        public bool IsValidated => (State & FrameState.Validated) != 0;
        public bool IsPinned => (State & FrameState.Pinned) != 0;
    }

    internal enum TypeReference
    {
        /// <summary>Taken; the frame already had this type (and, for tables, is validated).</summary>
        Taken,

        /// <summary>Taken as the first reference of a table type: the caller validates the entries, then
        /// calls <see cref="FrameTable.EndValidation"/>.</summary>
        MustValidate,

        /// <summary>Refused: another type is in use, or the count would overflow.</summary>
        Refused,
    }

    /// <summary>
    /// The frame table: owner, general reference count, type and type count of every physical frame
    /// (index = MFN), after Xen's get_page/put_page/get_page_type/put_page_type (xen/arch/x86/mm.c).
    ///
    /// Invariants, each checked by the property test from scratch:
    /// - a free frame has owner <see cref="DomainIds.Invalid"/>, no references, type None;
    /// - a domain's frame has references = (allocated ? 1 : 0) + (pinned ? 1 : 0) + base pointers to it +
    ///   entries of validated tables that point to it; its type count = pinned + base pointers + table
    ///   entries that use it as a table + writable L1 mappings of it;
    /// - a frame's references fall to 0 only after its owner released it, and then it goes back to the
    ///   allocator: owner release (<see cref="ReleaseByOwner"/>) and the final free are separate steps, so
    ///   a frame that others still reference (mappings, later grants) outlives its owner's interest in it.
    /// Frame 0 is never given to a domain: 0 means "no table" in the ABI (NEW_USER_BASEPTR 0).
    /// </summary>
    public sealed class FrameTable
    {
        private const uint MaxCount = uint.MaxValue - 1;

        private readonly FrameInfo[] _frames;
        private readonly FrameAllocator _allocator;
        private readonly uint[] _owned;
        private readonly uint[] _quota;
        private bool _flushPending;

        /// <summary>Frames free in the allocator start free; every other frame belongs to the hypervisor.
        /// Domain ids below <paramref name="domainCount"/> can own frames, each with a quota of 0 until set.</summary>
        /// <summary>What the table costs per machine frame (FrameInfo's size, which a host test checks).</summary>
        public const ulong BytesPerFrame = 16;

        public FrameTable(FrameAllocator allocator, int domainCount)
        {
            _allocator = allocator;
            allocator.Reserve(0, FrameAllocator.FrameSize);
            _frames = new FrameInfo[allocator.FrameCount];
            for (ulong mfn = 0; mfn < (ulong)_frames.Length; mfn++)
            {
                _frames[mfn].OwnerId = allocator.IsFree(mfn * FrameAllocator.FrameSize) ? DomainIds.Invalid : DomainIds.Xen;
            }
            _owned = new uint[domainCount];
            _quota = new uint[domainCount];
        }

        public ulong FrameCount => (ulong)_frames.Length;

        /// <summary>A copy of a frame's state; an MFN outside the table reads as an unowned I/O frame.</summary>
        public FrameInfo this[ulong mfn] => Exists(mfn) ? _frames[mfn] : new FrameInfo { OwnerId = DomainIds.Io };

        public bool Exists(ulong mfn) => mfn < (ulong)_frames.Length;

        public ushort OwnerOf(ulong mfn) => Exists(mfn) ? _frames[mfn].OwnerId : DomainIds.Io;

        public PageType TypeOf(ulong mfn) => Exists(mfn) ? _frames[mfn].TypeValue : PageType.None;

        public uint OwnedFrames(ushort domain) => IsDomain(domain) ? _owned[domain] : 0;

        public uint QuotaOf(ushort domain) => IsDomain(domain) ? _quota[domain] : 0;

        public bool IsDomain(ushort domain) => domain < _owned.Length;

        /// <summary>Marks hypervisor frames in [first, first + count) as I/O memory (Xen gives the first MiB
        /// and every non-RAM range of the memory map to DOMID_IO). Frames given to a domain stay as they are.</summary>
        public void MarkIo(ulong first, ulong count)
        {
            for (ulong mfn = first; mfn < first + count && Exists(mfn); mfn++)
            {
                if (_frames[mfn].OwnerId == DomainIds.Xen) _frames[mfn].OwnerId = DomainIds.Io;
            }
        }

        /// <summary>Sets the most frames a domain may own (Xen's max_pages); -EINVAL for an unknown domain.</summary>
        public long SetQuota(ushort domain, uint maxFrames)
        {
            if (!IsDomain(domain)) return Errno.EINVAL;
            _quota[domain] = maxFrames;
            return 0;
        }

        /// <summary>
        /// Takes a free frame for a domain, which then holds its allocation reference. -E2BIG over quota
        /// (Xen's assign_pages), -ENOMEM when no frame is free, -EINVAL for an unknown domain. The frame's
        /// old contents are still there: reached through DirectPaging.AllocateFrame, which clears them.
        /// </summary>
        internal long AllocateFor(ushort domain, out ulong mfn)
        {
            mfn = 0;
            if (!IsDomain(domain)) return Errno.EINVAL;
            if (_owned[domain] >= _quota[domain]) return Errno.E2BIG;
            if (!_allocator.TryAllocate(out ulong address)) return Errno.ENOMEM;
            mfn = address / FrameAllocator.FrameSize;
            ref FrameInfo frame = ref _frames[mfn];
            frame = default;
            frame.OwnerId = domain;
            frame.References = 1;
            frame.State = FrameState.Allocated;
            _owned[domain]++;
            return 0;
        }

        /// <summary>
        /// The owner gives a frame up (Xen: put_page_alloc_ref, from decrease_reservation or domain
        /// teardown). The frame is freed now if nothing else references it, else when the last reference
        /// goes. -EINVAL if the domain does not own it or released it already. Reached through
        /// DirectPaging.ReleaseFrame, which also reports the TLB flush a free requires.
        /// </summary>
        internal long ReleaseByOwner(ushort domain, ulong mfn)
        {
            if (!Exists(mfn) || !IsDomain(domain)) return Errno.EINVAL;
            ref FrameInfo frame = ref _frames[mfn];
            if (frame.OwnerId != domain || (frame.State & FrameState.Allocated) == 0) return Errno.EINVAL;
            frame.State &= ~FrameState.Allocated;
            PutReference(mfn);
            return 0;
        }

        /// <summary>
        /// Whether a flush became required since the last call, and forgets it: the caller now owes that
        /// flush. Required once a frame changed type after a use that a TLB may still hold, or went back to
        /// the allocator: every TLB that may hold an old translation must be flushed before the guest runs.
        /// </summary>
        internal bool TakeFlushRequirement()
        {
            bool pending = _flushPending;
            _flushPending = false;
            return pending;
        }

        /// <summary>Xen's get_page: a general reference on a frame the domain owns that is still live.</summary>
        internal bool TryGetReference(ulong mfn, ushort domain)
        {
            if (!Exists(mfn)) return false;
            ref FrameInfo frame = ref _frames[mfn];
            if (frame.OwnerId != domain || frame.References == 0 || frame.References >= MaxCount) return false;
            frame.References++;
            return true;
        }

        /// <summary>Xen's put_page: drops a general reference; the last one frees the frame.</summary>
        internal void PutReference(ulong mfn)
        {
            ref FrameInfo frame = ref _frames[mfn];
            frame.References--;
            if (frame.References != 0) return;
            ushort owner = frame.OwnerId;
            if (IsDomain(owner)) _owned[owner]--;
            frame = default;
            frame.OwnerId = DomainIds.Invalid;
            _allocator.Free(mfn * FrameAllocator.FrameSize);
            _flushPending = true;
        }

        /// <summary>
        /// Xen's _get_page_type for a frame the caller holds a general reference on. The type may change only
        /// while the type count is 0; a change away from an earlier use requires a TLB flush first.
        /// </summary>
        internal TypeReference BeginTypeReference(ulong mfn, PageType type)
        {
            ref FrameInfo frame = ref _frames[mfn];
            if (frame.TypeReferences >= MaxCount) return TypeReference.Refused;
            if (frame.TypeReferences != 0)
            {
                if (frame.TypeValue != type) return TypeReference.Refused;
                if (IsTable(type) && (frame.State & FrameState.Validated) == 0) return TypeReference.Refused;
                frame.TypeReferences++;
                return TypeReference.Taken;
            }
            if (frame.TypeValue != type)
            {
                if ((frame.State & FrameState.Stale) != 0) _flushPending = true;
                frame.State &= ~(FrameState.Stale | FrameState.Validated);
                frame.TypeValue = type;
            }
            frame.TypeReferences = 1;
            return type == PageType.Writable ? TypeReference.Taken : TypeReference.MustValidate;
        }

        /// <summary>Ends the validation a <see cref="TypeReference.MustValidate"/> asked for. On failure the
        /// frame goes back to having no type and no type reference (Xen: type_info = 0).</summary>
        internal void EndValidation(ulong mfn, bool validated)
        {
            ref FrameInfo frame = ref _frames[mfn];
            if (validated)
            {
                frame.State |= FrameState.Validated;
                return;
            }
            frame.TypeReferences = 0;
            frame.TypeValue = PageType.None;
            frame.State &= ~FrameState.Validated;
        }

        /// <summary>A type reference that must be on a validated table of exactly this type (Xen's linear
        /// page-table rule 2: never wait on, or join, a validation in progress).</summary>
        internal bool TryAddValidatedTypeReference(ulong mfn, PageType type)
        {
            ref FrameInfo frame = ref _frames[mfn];
            if (frame.TypeValue != type || frame.TypeReferences == 0 || frame.TypeReferences >= MaxCount) return false;
            if ((frame.State & FrameState.Validated) == 0) return false;
            frame.TypeReferences++;
            return true;
        }

        /// <summary>
        /// Xen's _put_page_type: drops a type reference. True when the last reference on a validated table
        /// went: the table is no longer validated and the caller must demote it (drop what its entries hold).
        /// </summary>
        internal bool DropTypeReference(ulong mfn)
        {
            ref FrameInfo frame = ref _frames[mfn];
            frame.TypeReferences--;
            if (frame.TypeReferences != 0) return false;
            frame.State |= FrameState.Stale;
            if ((frame.State & FrameState.Validated) == 0) return false;
            frame.State &= ~FrameState.Validated;
            return true;
        }

        internal bool TrySetPinned(ulong mfn)
        {
            ref FrameInfo frame = ref _frames[mfn];
            if ((frame.State & FrameState.Pinned) != 0) return false;
            frame.State |= FrameState.Pinned;
            return true;
        }

        internal bool TryClearPinned(ulong mfn)
        {
            ref FrameInfo frame = ref _frames[mfn];
            if ((frame.State & FrameState.Pinned) == 0) return false;
            frame.State &= ~FrameState.Pinned;
            return true;
        }

        /// <summary>A table gains a linear entry; refused while it is itself the target of linear entries.</summary>
        internal bool TryAddLinearEntry(ulong table)
        {
            ref FrameInfo frame = ref _frames[table];
            if (frame.Linear < 0 || frame.Linear == short.MaxValue) return false;
            frame.Linear++;
            return true;
        }

        /// <summary>A table becomes the target of a linear entry; refused while it holds linear entries.</summary>
        internal bool TryAddLinearUse(ulong target)
        {
            ref FrameInfo frame = ref _frames[target];
            if (frame.Linear > 0 || frame.Linear == short.MinValue) return false;
            frame.Linear--;
            return true;
        }

        internal void RemoveLinearEntry(ulong table) => _frames[table].Linear--;

        internal void RemoveLinearUse(ulong target) => _frames[target].Linear++;

        internal static bool IsTable(PageType type) => type >= PageType.L1 && type <= PageType.L4;
    }
}

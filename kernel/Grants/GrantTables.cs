using System;
using System.Runtime.InteropServices;
using Keel.Kernel.Memory;
using Keel.Kernel.Paging;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Grants
{
    /// <summary>
    /// Grant tables, version 1 (xen/common/grant_table.c, xen/include/public/grant_table.h): every domain
    /// shares a table of 8-byte entries, 512 to a frame, in frames the kernel gives it (setup_table), in which
    /// it offers single frames of its own to one other domain at a time, read-write or read-only. The other
    /// domain maps an offered frame (map_grant_ref, by virtual address in its own tables or as a device
    /// address), unmaps it by the handle it got back, or copies to or from it (copy).
    ///
    /// Xen's rules, kept here:
    /// - every entry a granter wrote is an allegation, read once per operation; an entry is honoured only
    ///   for the domain it names, as permit-access, read-only if it says so, for a frame the granter owns;
    /// - while mapped, the kernel keeps GTF_reading (and GTF_writing for a writable mapping) set in the entry,
    ///   and the active entry (the kernel's own copy) fixes the frame and the mapper: rewriting the entry
    ///   changes nothing until the last mapping goes, so a granter cannot take a grant in use back;
    /// - a mapping holds references on the frame (<see cref="DirectPaging{TMemory, TIo}.MapForeign"/>), so a
    ///   granter that dies leaves the mapped frames allocated (the domain is a zombie) until each mapper unmaps;
    /// - a mapper that dies has its mappings undone (<see cref="ReleaseMappings"/>), and a mapping whose table
    ///   the mapper dropped is forgotten when paging reports it.
    /// Statuses are Xen's GNTST_* values; nothing a domain passes stops the kernel. Plain logic over paging and
    /// physical memory, tested on the host.
    /// </summary>
    public sealed class GrantTables<TMemory, TIo> : ForeignEntryObserver
        where TMemory : struct, IPhysicalMemory
        where TIo : struct, IIoPermissions
    {
        /// <summary>Frames a domain's table may grow to (Xen's max_grant_frames; libxl's default is 32).</summary>
        public const int MaxFrames = 32;

        /// <summary>Mappings a domain may hold at once (Xen's maptrack, here in buckets of 256 made on first use).</summary>
        public const int MaxHandles = HandleBuckets * HandleBucketSize;

        private const int HandleBuckets = 32, HandleBucketSize = 256;
        private const int ActiveBucketSize = 64, ActiveBucketsPerFrame = GrantEntry.PerFrame / ActiveBucketSize;
        private const int PageSize = 4096;

        /// <summary>The kernel's view of a grant in use (Xen's active_grant_entry): who maps it, which frame, how often.</summary>
        private struct Active
        {
            internal ulong Frame;
            internal ushort Mapper;
            internal ushort HostReaders, HostWriters, DeviceReaders, DeviceWriters;

            internal readonly bool InUse => HostReaders + HostWriters + DeviceReaders + DeviceWriters != 0;
            internal readonly bool Writing => HostWriters + DeviceWriters != 0;
        }

        [Flags]
        private enum MapParts : byte { None = 0, Host = 1, Device = 2, ReadOnly = 4 }

        /// <summary>One mapping a domain holds (Xen's grant_mapping), found by its handle.</summary>
        private struct Mapping
        {
            internal MapParts Parts;
            internal ushort Granter;
            internal ushort Index;
            internal uint Ref;
            internal ulong Table;
            internal ulong Frame;

            internal readonly bool InUse => (Parts & (MapParts.Host | MapParts.Device)) != 0;
            internal readonly bool ReadOnly => (Parts & MapParts.ReadOnly) != 0;
        }

        private sealed class Table
        {
            internal readonly ulong[] Frames = new ulong[MaxFrames];
            internal int FrameCount;
            internal readonly Active[][][] Active = new Active[MaxFrames][][];
            internal readonly Mapping[][] Mappings = new Mapping[HandleBuckets][];
            internal int NextHandle;

            /// <summary>The domain ended: its frames are let go; the active entries stay until every mapper unmaps.</summary>
            internal bool Dead;
        }

        private readonly Table[] _tables;
        private readonly DirectPaging<TMemory, TIo> _paging;
        private TMemory _memory;

        public GrantTables(int domains, DirectPaging<TMemory, TIo> paging, TMemory memory)
        {
            _tables = new Table[domains];
            _paging = paging;
            _memory = memory;
            paging.ObserveForeignEntries(this);
        }

        /// <summary>Gives a domain an empty table; done once when it is built.</summary>
        public void AddDomain(ushort domain) => _tables[domain] = new Table();

        private Table Live(ushort domain) => domain < _tables.Length && _tables[domain] != null && !_tables[domain].Dead ? _tables[domain] : null;

        public int FrameCount(ushort domain) => Live(domain)?.FrameCount ?? 0;

        public ulong FrameOf(ushort domain, int index) => Live(domain)?.Frames[index] ?? 0;

        /// <summary>
        /// setup_table's growth (Xen's gnttab_grow_table): the table gets at least <paramref name="frames"/>
        /// frames, each a zeroed frame of the domain shared with the kernel (one more than its memory quota, as
        /// Xen does not count grant frames against it). GeneralError above <see cref="MaxFrames"/> or with no
        /// memory left; BadDomain for a domain without a table.
        /// </summary>
        public short Grow(ushort domain, uint frames)
        {
            Table table = Live(domain);
            if (table == null) return GrantStatus.BadDomain;
            if (frames > MaxFrames) return GrantStatus.GeneralError;
            FrameTable frameTable = _paging.Frames;
            while (table.FrameCount < frames)
            {
                frameTable.SetQuota(domain, frameTable.QuotaOf(domain) + 1);
                if (_paging.AllocateSharedFrame(domain, out ulong mfn) != 0)
                {
                    frameTable.SetQuota(domain, frameTable.QuotaOf(domain) - 1);
                    return GrantStatus.GeneralError;
                }
                table.Frames[table.FrameCount] = mfn;
                table.Active[table.FrameCount] = new Active[ActiveBucketsPerFrame][];
                table.FrameCount++;
            }
            return GrantStatus.Okay;
        }

        /// <summary>The domain builder's grants (libxc's reserved entries): permit-access to <paramref name="grantee"/> for one of the domain's frames.</summary>
        public bool Seed(ushort domain, uint reference, ushort grantee, ulong frame)
        {
            Table table = Live(domain);
            if (table == null || reference >= (uint)(table.FrameCount * GrantEntry.PerFrame) || frame > uint.MaxValue) return false;
            Entry(table, reference) = GrantEntry.Make(GrantEntry.PermitAccess, grantee, (uint)frame);
            return true;
        }

        /// <summary>The 8-byte shared entry, in the granter's frame (which the kernel holds while the domain lives).</summary>
        private ref ulong Entry(Table table, uint reference) =>
            ref _memory.Table(table.Frames[reference / GrantEntry.PerFrame] * (ulong)PageSize)[(int)(reference % GrantEntry.PerFrame)];

        private static ref Active ActiveOf(Table table, uint reference)
        {
            Active[][] buckets = table.Active[reference / GrantEntry.PerFrame];
            uint bucket = reference % GrantEntry.PerFrame / ActiveBucketSize;
            buckets[bucket] ??= new Active[ActiveBucketSize];
            return ref buckets[bucket][reference % ActiveBucketSize];
        }

        /// <summary>
        /// map_grant_ref (Xen's map_grant_ref): maps the granter's entry <paramref name="reference"/> for the
        /// mapper, at <paramref name="hostAddress"/> in its kernel tables (GNTMAP_host_map) and/or for devices
        /// (GNTMAP_device_map, whose bus address is the machine address: there is no IOMMU). Statuses as Xen's:
        /// BadGntref for neither kind or a reference past the table, GeneralError for a mapping by PTE address
        /// (GNTMAP_contains_pte, not offered), an entry not offered to the mapper, a write to a read-only grant,
        /// a frame that is not the granter's or cannot be mapped so, or no L1 of the mapper at the address;
        /// BadDomain for an unknown or dead granter; NoSpace when the mapper holds <see cref="MaxHandles"/>.
        /// </summary>
        public short Map(ushort mapper, ulong kernelL4, ushort granter, uint reference, uint flags, ulong hostAddress,
                         out uint handle, out ulong busAddress, ref TlbFlush flush)
        {
            handle = 0;
            busAddress = 0;
            bool host = (flags & GrantMapFlags.HostMap) != 0, device = (flags & GrantMapFlags.DeviceMap) != 0;
            bool readOnly = (flags & GrantMapFlags.ReadOnly) != 0;
            if (!host && !device) return GrantStatus.BadGntref;
            if (host && (flags & GrantMapFlags.ContainsPte) != 0) return GrantStatus.GeneralError;
            Table granted = Live(granter);
            Table mine = Live(mapper);
            if (granted == null || mine == null) return GrantStatus.BadDomain;
            if (!TryFreeHandle(mine, out handle)) return GrantStatus.NoSpace;
            if (reference >= (uint)(granted.FrameCount * GrantEntry.PerFrame)) return GrantStatus.BadGntref;

            ref Active active = ref ActiveOf(granted, reference);
            ulong frame = active.Frame;
            short status = Pin(granted, reference, ref active, mapper, readOnly, ref frame);
            if (status != GrantStatus.Okay) return status;

            if (device && !_paging.HoldFrame(granter, frame, !readOnly))
            {
                Unpin(granted, reference, ref active);
                return GrantStatus.GeneralError;
            }
            ulong table = 0;
            int index = 0;
            if (host && !_paging.MapForeign(mapper, kernelL4, hostAddress, frame, granter, !readOnly,
                                            (flags & GrantMapFlags.ApplicationMap) != 0, out table, out index, ref flush))
            {
                if (device) _paging.ReleaseHeldFrame(frame, !readOnly, ref flush);
                Unpin(granted, reference, ref active);
                return GrantStatus.GeneralError;
            }

            active.Frame = frame;
            active.Mapper = mapper;
            if (host) { if (readOnly) active.HostReaders++; else active.HostWriters++; }
            if (device) { if (readOnly) active.DeviceReaders++; else active.DeviceWriters++; }
            MapParts parts = (host ? MapParts.Host : 0) | (device ? MapParts.Device : 0) | (readOnly ? MapParts.ReadOnly : 0);
            Slot(mine, handle) = new Mapping { Parts = parts, Granter = granter, Ref = reference, Table = table, Index = (ushort)index, Frame = frame };
            busAddress = device ? frame * (ulong)PageSize : 0;
            return GrantStatus.Okay;
        }

        /// <summary>
        /// Checks the shared entry for one more use and marks it (Xen's _set_status_v1). A grant not yet in use
        /// must be permit-access, not sub-page, offered to the mapper, for a frame the granter owns; once in use
        /// the active entry's mapper and frame decide. A writable use needs a grant without GTF_readonly either way.
        /// </summary>
        private short Pin(Table granted, uint reference, ref Active active, ushort mapper, bool readOnly, ref ulong frame)
        {
            ref ulong shared = ref Entry(granted, reference);
            ulong entry = shared;
            ushort flags = GrantEntry.FlagsOf(entry);
            if (active.InUse)
            {
                if (active.Mapper != mapper) return GrantStatus.GeneralError;
                if (active.HostReaders == ushort.MaxValue || active.HostWriters == ushort.MaxValue ||
                    active.DeviceReaders == ushort.MaxValue || active.DeviceWriters == ushort.MaxValue) return GrantStatus.GeneralError;
            }
            else
            {
                if ((flags & (GrantEntry.TypeMask | GrantEntry.SubPage)) != GrantEntry.PermitAccess || GrantEntry.DomainOf(entry) != mapper) return GrantStatus.GeneralError;
                frame = GrantEntry.FrameOf(entry);
            }
            if (!readOnly && (flags & GrantEntry.ReadOnly) != 0) return GrantStatus.GeneralError;
            flags |= GrantEntry.Reading;
            if (!readOnly) flags |= GrantEntry.Writing;
            shared = (entry & ~0xFFFFUL) | flags;
            return GrantStatus.Okay;
        }

        /// <summary>After a use ends (or a failed one): GTF_writing goes when no writable use is left, GTF_reading when none is.</summary>
        private void Unpin(Table granted, uint reference, ref Active active)
        {
            if (granted.Dead) return;
            ref ulong shared = ref Entry(granted, reference);
            ushort flags = GrantEntry.FlagsOf(shared);
            if (!active.Writing) flags &= unchecked((ushort)~GrantEntry.Writing);
            if (!active.InUse) flags &= unchecked((ushort)~GrantEntry.Reading);
            shared = (shared & ~0xFFFFUL) | flags;
        }

        /// <summary>
        /// unmap_grant_ref (Xen's unmap_common): ends the mapping <paramref name="handle"/> names. A non-zero
        /// <paramref name="hostAddress"/> must reach the mapping's entry through the mapper's tables and ends the
        /// host part; a non-zero <paramref name="busAddress"/> must be the device address and ends the device
        /// part; a zero one leaves its part. BadHandle for a handle not in use, GeneralError for a host address
        /// that does not reach the mapping, BadDevAddr for a wrong bus address.
        /// </summary>
        public short Unmap(ushort mapper, ulong kernelL4, uint handle, ulong hostAddress, ulong busAddress, ref TlbFlush flush)
        {
            Table mine = Live(mapper);
            if (mine == null || handle >= MaxHandles || mine.Mappings[handle / HandleBucketSize] == null) return GrantStatus.BadHandle;
            ref Mapping mapping = ref Slot(mine, handle);
            if (!mapping.InUse) return GrantStatus.BadHandle;
            bool host = hostAddress != 0 && (mapping.Parts & MapParts.Host) != 0;
            bool device = busAddress != 0 && (mapping.Parts & MapParts.Device) != 0;
            if (device && busAddress != mapping.Frame * (ulong)PageSize) return GrantStatus.BadDevAddr;
            if (host)
            {
                if (!_paging.FindMapperL1(mapper, kernelL4, hostAddress, out ulong table) || table != mapping.Table ||
                    EntryRules.IndexOf(hostAddress, 1) != mapping.Index) return GrantStatus.GeneralError;
                if (!_paging.UnmapForeign(mapper, mapping.Table, mapping.Index, mapping.Frame, ref flush)) return GrantStatus.GeneralError;
                EndPart(ref mapping, MapParts.Host);
            }
            if (device)
            {
                _paging.ReleaseHeldFrame(mapping.Frame, !mapping.ReadOnly, ref flush);
                EndPart(ref mapping, MapParts.Device);
            }
            return GrantStatus.Okay;
        }

        /// <summary>A part of a mapping is gone (its references already dropped): the active entry and the shared flags follow.</summary>
        private void EndPart(ref Mapping mapping, MapParts part)
        {
            mapping.Parts &= ~part;
            Table granted = _tables[mapping.Granter];
            ref Active active = ref ActiveOf(granted, mapping.Ref);
            bool host = part == MapParts.Host;
            if (mapping.ReadOnly) { if (host) active.HostReaders--; else active.DeviceReaders--; }
            else { if (host) active.HostWriters--; else active.DeviceWriters--; }
            Unpin(granted, mapping.Ref, ref active);
        }

        /// <summary>Paging dropped a host mapping with its table: forget it.</summary>
        public override void ForeignEntryDropped(ushort mapper, ulong table, int index, ulong entry)
        {
            Table mine = mapper < _tables.Length ? _tables[mapper] : null;
            if (mine == null) return;
            for (uint h = 0; NextInUse(mine, ref h); h++)
            {
                ref Mapping m = ref Slot(mine, h);
                if ((m.Parts & MapParts.Host) == 0 || m.Table != table || m.Index != index) continue;
                EndPart(ref m, MapParts.Host);
                return;
            }
        }

        /// <summary>A mapper ends (Xen's gnttab_release_mappings): every mapping it holds is undone.</summary>
        public void ReleaseMappings(ushort mapper, ref TlbFlush flush)
        {
            Table mine = mapper < _tables.Length ? _tables[mapper] : null;
            if (mine == null) return;
            for (uint h = 0; NextInUse(mine, ref h); h++)
            {
                ref Mapping m = ref Slot(mine, h);
                if ((m.Parts & MapParts.Host) != 0)
                {
                    _paging.UnmapForeign(mapper, m.Table, m.Index, m.Frame, ref flush);
                    EndPart(ref m, MapParts.Host);
                }
                if ((m.Parts & MapParts.Device) != 0)
                {
                    _paging.ReleaseHeldFrame(m.Frame, !m.ReadOnly, ref flush);
                    EndPart(ref m, MapParts.Device);
                }
            }
        }

        /// <summary>A granter ends: the kernel lets go of its table's frames (freed once nothing maps them);
        /// its active entries stay so mappers can still unmap.</summary>
        public void RemoveDomain(ushort domain, ref TlbFlush flush)
        {
            Table table = Live(domain);
            if (table == null) return;
            for (int f = 0; f < table.FrameCount; f++) _paging.ReleaseSharedFrame(table.Frames[f], ref flush);
            table.Dead = true;
        }

        /// <summary>How many mappings the domain holds (diagnostics and tests).</summary>
        public int MappingCount(ushort domain)
        {
            Table table = domain < _tables.Length ? _tables[domain] : null;
            int count = 0;
            if (table == null) return 0;
            for (uint h = 0; NextInUse(table, ref h); h++) count++;
            return count;
        }

        /// <summary>Moves <paramref name="handle"/> on to the first handle at or after it that is in use; false when none is left.</summary>
        private static bool NextInUse(Table table, ref uint handle)
        {
            for (; handle < MaxHandles; handle++)
            {
                Mapping[] bucket = table.Mappings[handle / HandleBucketSize];
                if (bucket == null) handle |= HandleBucketSize - 1;
                else if (bucket[handle % HandleBucketSize].InUse) return true;
            }
            return false;
        }

        private static ref Mapping Slot(Table table, uint handle) => ref table.Mappings[handle / HandleBucketSize][handle % HandleBucketSize];

        /// <summary>A handle not in use, searching on from the last one given out; buckets are made as needed.</summary>
        private static bool TryFreeHandle(Table table, out uint handle)
        {
            for (int n = 0; n < MaxHandles; n++)
            {
                uint h = (uint)((table.NextHandle + n) % MaxHandles);
                Mapping[] bucket = table.Mappings[h / HandleBucketSize] ??= new Mapping[HandleBucketSize];
                if (bucket[h % HandleBucketSize].InUse) continue;
                table.NextHandle = (int)((h + 1) % MaxHandles);
                handle = h;
                return true;
            }
            handle = 0;
            return false;
        }

        /// <summary>
        /// copy (Xen's gnttab_copy): copies <c>Length</c> bytes between two pages, each named by a grant of
        /// another domain to the caller, or by a frame of the caller's own (with DOMID_SELF only, as Xen). The
        /// destination must be able to take a writable use (never a page table). Statuses: BadCopyArg for a
        /// range that crosses its page, PermissionDenied for a frame named with another domain, BadDomain,
        /// BadGntref, GeneralError for a grant not offered (or read-only for the destination), BadPage for a
        /// frame the caller does not own.
        /// </summary>
        public short Copy(ushort caller, in GrantCopyRequest op, ref TlbFlush flush)
        {
            bool sourceRef = (op.Flags & GrantCopyRequest.SourceIsRef) != 0, destinationRef = (op.Flags & GrantCopyRequest.DestinationIsRef) != 0;
            short status = Claim(caller, op.Source, sourceRef, writable: false, out ulong source, out Table sourceTable);
            if (status != GrantStatus.Okay) return status;
            status = Claim(caller, op.Destination, destinationRef, writable: true, out ulong destination, out Table destinationTable);
            if (status == GrantStatus.Okay)
            {
                if (op.Source.Offset + op.Length > PageSize || op.Destination.Offset + op.Length > PageSize) status = GrantStatus.BadCopyArg;
                else
                {
                    Span<byte> from = MemoryMarshal.AsBytes(_memory.Table(source * (ulong)PageSize)).Slice(op.Source.Offset, op.Length);
                    Span<byte> to = MemoryMarshal.AsBytes(_memory.Table(destination * (ulong)PageSize)).Slice(op.Destination.Offset, op.Length);
                    from.CopyTo(to);
                }
                Release(destinationTable, op.Destination, destinationRef, destination, writable: true, ref flush);
            }
            Release(sourceTable, op.Source, sourceRef, source, writable: false, ref flush);
            return status;
        }

        /// <summary>One side of a copy: the frame it names, with a reference (and a writable type) held and, for a grant, a use pinned.</summary>
        private short Claim(ushort caller, in GrantCopyPointer side, bool isRef, bool writable, out ulong frame, out Table table)
        {
            frame = 0;
            table = null;
            if (!isRef)
            {
                if (side.Domain != DomainIds.Self) return GrantStatus.PermissionDenied;
                frame = side.Frame;
                return _paging.HoldFrame(caller, frame, writable) ? GrantStatus.Okay : GrantStatus.BadPage;
            }
            ushort granter = side.Domain == DomainIds.Self ? caller : side.Domain;
            table = Live(granter);
            if (table == null) return GrantStatus.BadDomain;
            if (side.Ref >= (uint)(table.FrameCount * GrantEntry.PerFrame)) return GrantStatus.BadGntref;
            ref Active active = ref ActiveOf(table, side.Ref);
            frame = active.Frame;
            short status = Pin(table, side.Ref, ref active, caller, !writable, ref frame);
            if (status != GrantStatus.Okay) return status;
            if (_paging.HoldFrame(granter, frame, writable))
            {
                // A use for the copy's duration: counted as a device use, so GTF flags stay right meanwhile.
                if (writable) active.DeviceWriters++; else active.DeviceReaders++;
                active.Mapper = caller;
                active.Frame = frame;
                return GrantStatus.Okay;
            }
            Unpin(table, side.Ref, ref active);
            table = null;
            return GrantStatus.GeneralError;
        }

        private void Release(Table table, in GrantCopyPointer side, bool isRef, ulong frame, bool writable, ref TlbFlush flush)
        {
            _paging.ReleaseHeldFrame(frame, writable, ref flush);
            if (!isRef) return;
            ref Active active = ref ActiveOf(table, side.Ref);
            if (writable) active.DeviceWriters--; else active.DeviceReaders--;
            Unpin(table, side.Ref, ref active);
        }
    }
}

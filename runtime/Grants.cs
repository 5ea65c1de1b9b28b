using System.Threading;
using Keel.Ringlib.Xen;

namespace Keel.Runtime
{
    /// <summary>
    /// The grant-table client (what Linux's drivers/xen/grant-table.c gives its drivers): the domain's own
    /// table, set up with setup_table and mapped into its address space, from which it offers its frames to
    /// other domains; and the operations on grants other domains offer it (map, unmap, copy). References 0-7
    /// are reserved (libxc's builder puts the console and store grants in 0 and 1); the rest are handed out
    /// from a free list. An entry is written as Xen requires: domain and frame first, then the flags.
    /// </summary>
    public static unsafe class Grants
    {
        /// <summary>Frames of the table (512 entries each).</summary>
        public const int Frames = 4;
        public const int Entries = Frames * GrantEntry.PerFrame;
        private const int Reserved = 8;

        private static ulong* s_table;
        private static int[] s_nextFree;
        private static int s_free;

        /// <summary>setup_table, then maps the frames; 0, a negative errno or a negative GNTST status.</summary>
        public static long Initialise()
        {
            GrantSetupTable setup = default;
            ulong* frames = stackalloc ulong[Frames];
            setup.Domain = DomainIds.Self;
            setup.FrameCount = Frames;
            setup.FrameList = (ulong)frames;
            long rc = Operation(GrantTableCommand.SetupTable, &setup);
            if (rc != 0) return rc;
            if (setup.Status != GrantStatus.Okay) return setup.Status;
            ulong va = Pages.TakeWindow(Frames);
            if (va == 0) return Errno.ENOMEM;
            for (int i = 0; i < Frames; i++)
            {
                rc = Memory.UpdateVaMapping(va + (ulong)i * Memory.PageSize, frames[i] * Memory.PageSize | 0x63, UpdateVaFlags.Invlpg);
                if (rc != 0) return rc;
            }
            s_table = (ulong*)va;
            s_nextFree = new int[Entries];
            for (int i = Reserved; i < Entries - 1; i++) s_nextFree[i] = i + 1;
            s_nextFree[Entries - 1] = -1;
            s_free = Reserved;
            return 0;
        }

        private static long Operation(GrantTableCommand command, void* op, uint count = 1) =>
            Hypercall.Raw((ulong)HypercallNumber.GrantTableOp, (ulong)command, (ulong)op, count);

        /// <summary>Offers one of this domain's frames to <paramref name="domain"/>; the reference, or -1 when the table is full.</summary>
        public static int Grant(ushort domain, ulong frame, bool readOnly)
        {
            int reference = s_free;
            if (reference < 0) return -1;
            s_free = s_nextFree[reference];
            ref ulong entry = ref s_table[reference];
            Volatile.Write(ref entry, GrantEntry.Make(0, domain, (uint)frame));
            ushort flags = readOnly ? (ushort)(GrantEntry.PermitAccess | GrantEntry.ReadOnly) : GrantEntry.PermitAccess;
            Volatile.Write(ref *(ushort*)&s_table[reference], flags);
            return reference;
        }

        /// <summary>
        /// Takes a grant back (gnttab_end_foreign_access_ref): only while the other domain has it mapped
        /// neither for reading nor for writing, checked and cleared in one compare-exchange so a mapping made
        /// meanwhile is never lost. False, with the grant left as it is, if it is in use.
        /// </summary>
        public static bool EndAccess(int reference)
        {
            if (reference < Reserved || reference >= Entries) return false;
            ref uint header = ref *(uint*)&s_table[reference];
            uint seen = Volatile.Read(ref header);
            while (true)
            {
                if ((seen & (GrantEntry.Reading | GrantEntry.Writing)) != 0) return false;
                uint was = Interlocked.CompareExchange(ref header, seen & 0xFFFF0000, seen);
                if (was == seen) break;
                seen = was;
            }
            s_nextFree[reference] = s_free;
            s_free = reference;
            return true;
        }

        /// <summary>Whether the other domain holds a mapping of the grant now (GTF_reading, which Xen keeps set while mapped).</summary>
        public static bool InUse(int reference) => (Volatile.Read(ref *(ushort*)&s_table[reference]) & (GrantEntry.Reading | GrantEntry.Writing)) != 0;

        /// <summary>Maps another domain's grant at <paramref name="va"/> (an empty page of <see cref="Pages.TakeWindow"/>);
        /// the GNTST status, or a negative errno from the hypercall.</summary>
        public static long Map(ushort domain, uint reference, ulong va, bool readOnly, out uint handle)
        {
            GrantMapRequest op = default;
            op.HostAddress = va;
            op.Flags = GrantMapFlags.HostMap | (readOnly ? GrantMapFlags.ReadOnly : 0);
            op.Ref = reference;
            op.Domain = domain;
            long rc = Operation(GrantTableCommand.MapGrantRef, &op);
            handle = op.Handle;
            return rc != 0 ? rc : op.Status;
        }

        /// <summary>
        /// GNTTABOP_map_grant_ref of every operation in ops, in one hypercall (the caller fills each: flags,
        /// ref, dom, host_addr; GNTMAP_device_map alone maps for a device, whose dev_bus_addr is the frame's
        /// machine address with no IOMMU); each answers in its own status, handle and dev_bus_addr. The
        /// hypercall's result: 0 once every operation was answered, or a negative errno.
        /// </summary>
        public static long MapBatch(System.Span<GrantMapRequest> ops)
        {
            fixed (GrantMapRequest* first = ops) return Operation(GrantTableCommand.MapGrantRef, first, (uint)ops.Length);
        }

        /// <summary>GNTTABOP_unmap_grant_ref of every operation in ops, in one hypercall; as MapBatch.</summary>
        public static long UnmapBatch(System.Span<GrantUnmapRequest> ops)
        {
            fixed (GrantUnmapRequest* first = ops) return Operation(GrantTableCommand.UnmapGrantRef, first, (uint)ops.Length);
        }

        public static long Unmap(ulong va, uint handle)
        {
            GrantUnmapRequest op = default;
            op.HostAddress = va;
            op.Handle = handle;
            long rc = Operation(GrantTableCommand.UnmapGrantRef, &op);
            return rc != 0 ? rc : op.Status;
        }

        /// <summary>One grant copy; the GNTST status, or a negative errno.</summary>
        public static long Copy(ref GrantCopyRequest request)
        {
            long rc;
            fixed (GrantCopyRequest* op = &request) rc = Operation(GrantTableCommand.Copy, op);
            return rc != 0 ? rc : request.Status;
        }
    }
}

using System;
using System.Runtime.InteropServices;
using Keel.Kernel.Grants;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Kernel.Paging;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// grant_table_op (20): (cmd, uop, count) with the structures of xen/include/public/grant_table.h. Each
    /// operation is copied in once, answered in its own status field (GNTST_*) and its results copied back;
    /// the call returns 0 once every operation was answered, -EFAULT when one cannot be read or written
    /// back (later ones are not done), -EINVAL for a count the command does not take, -ENOSYS for commands
    /// not offered (transfer, unmap_and_replace, the v2 status frames, swap_grant_ref, cache_flush).
    /// Naming another domain's table (setup_table, query_size, dump_table) is for the control domain only.
    /// </summary>
    internal static unsafe class GrantTableOp
    {
        /// <summary>As for mmu_update, Keel takes at most this many operations a call where Xen would continue.</summary>
        private const ulong MaxOperations = 1 << 16;

        internal static long Handle(Vcpu vcpu, in HypercallArguments call)
        {
            ulong count = call.A3 & 0xFFFF_FFFF;
            if (count > MaxOperations) return Errno.EINVAL;
            switch ((GrantTableCommand)call.A1)
            {
                case GrantTableCommand.MapGrantRef: return Each<GrantMapRequest, Maps>(vcpu, call.A2, count);
                case GrantTableCommand.UnmapGrantRef: return Each<GrantUnmapRequest, Unmaps>(vcpu, call.A2, count);
                case GrantTableCommand.Copy: return Each<GrantCopyRequest, Copies>(vcpu, call.A2, count);
                case GrantTableCommand.SetupTable: return count == 1 ? SetupTable(vcpu, call.A2) : Errno.EINVAL;
                case GrantTableCommand.QuerySize: return count == 1 ? QuerySize(vcpu, call.A2) : Errno.EINVAL;
                case GrantTableCommand.DumpTable: return count == 1 ? DumpTable(vcpu, call.A2) : Errno.EINVAL;
                case GrantTableCommand.SetVersion: return count == 1 ? SetVersion(vcpu, call.A2) : Errno.EINVAL;
                case GrantTableCommand.GetVersion: return count == 1 ? GetVersion(vcpu, call.A2) : Errno.EINVAL;
                default: return Errno.ENOSYS;
            }
        }

        /// <summary>What one kind of operation array does with each copied-in operation.</summary>
        private interface IOperation<T> where T : unmanaged
        {
            void Apply(Vcpu vcpu, ref T op, ref TlbFlush flush);
        }

        private struct Maps : IOperation<GrantMapRequest>
        {
            public void Apply(Vcpu vcpu, ref GrantMapRequest op, ref TlbFlush flush)
            {
                ushort granter = op.Domain == DomainIds.Self ? vcpu.Domain.Id : op.Domain;
                op.Status = MachineGrants.Tables.Map(vcpu.Domain.Id, vcpu.Tables.KernelL4, granter, op.Ref, op.Flags, op.HostAddress,
                                                     out op.Handle, out op.DeviceBusAddress, ref flush);
            }
        }

        private struct Unmaps : IOperation<GrantUnmapRequest>
        {
            public void Apply(Vcpu vcpu, ref GrantUnmapRequest op, ref TlbFlush flush) =>
                op.Status = MachineGrants.Tables.Unmap(vcpu.Domain.Id, vcpu.Tables.KernelL4, op.Handle, op.HostAddress, op.DeviceBusAddress, ref flush);
        }

        private struct Copies : IOperation<GrantCopyRequest>
        {
            public void Apply(Vcpu vcpu, ref GrantCopyRequest op, ref TlbFlush flush) =>
                op.Status = MachineGrants.Tables.Copy(vcpu.Domain.Id, op, ref flush);
        }

        /// <summary>Copies each operation in, applies it, copies it back with its results; the TLB flushes the
        /// operations owe are carried out before the call returns (no stale mapping survives an unmap batch).</summary>
        private static long Each<T, TOperation>(Vcpu vcpu, ulong array, ulong count) where T : unmanaged where TOperation : struct, IOperation<T>
        {
            TlbFlush flush = default;
            long rc = 0;
            for (ulong i = 0; i < count; i++)
            {
                ulong address = array + i * (ulong)sizeof(T);
                if (!GuestMemory.TryRead(vcpu, address, out T op))
                {
                    rc = Errno.EFAULT;
                    break;
                }
                default(TOperation).Apply(vcpu, ref op, ref flush);
                if (!GuestMemory.TryWrite(vcpu, address, new ReadOnlySpan<byte>(&op, sizeof(T))))
                {
                    rc = Errno.EFAULT;
                    break;
                }
            }
            MachinePaging.Apply(flush, vcpu);
            return rc;
        }

        /// <summary>The table a domid names: the caller's own (DOMID_SELF or its id), another only for the control domain.</summary>
        private static short TableOwner(Vcpu vcpu, ushort alleged, out ushort domain) => TargetDomain.Resolve(vcpu, alleged, out domain) switch
        {
            TargetRefusal.NotPermitted => GrantStatus.PermissionDenied,
            TargetRefusal.NoSuchDomain => GrantStatus.BadDomain,
            _ => GrantStatus.Okay,
        };

        /// <summary>setup_table: grows the table to nr_frames and writes that many machine frame numbers to frame_list (BadVirtAddr if it cannot).</summary>
        private static long SetupTable(Vcpu vcpu, ulong address)
        {
            if (!GuestMemory.TryRead(vcpu, address, out GrantSetupTable op)) return Errno.EFAULT;
            op.Status = TableOwner(vcpu, op.Domain, out ushort domain);
            if (op.Status == GrantStatus.Okay) op.Status = MachineGrants.Tables.Grow(domain, op.FrameCount);
            for (uint i = 0; op.Status == GrantStatus.Okay && i < op.FrameCount; i++)
            {
                ulong frame = MachineGrants.Tables.FrameOf(domain, (int)i);
                if (!GuestMemory.TryWrite(vcpu, op.FrameList + i * 8, new ReadOnlySpan<byte>(&frame, 8))) op.Status = GrantStatus.BadVirtAddr;
            }
            return WriteBack(vcpu, address, op);
        }

        private static long QuerySize(Vcpu vcpu, ulong address)
        {
            if (!GuestMemory.TryRead(vcpu, address, out GrantQuerySize op)) return Errno.EFAULT;
            op.Status = TableOwner(vcpu, op.Domain, out ushort domain);
            op.FrameCount = op.Status == GrantStatus.Okay ? (uint)MachineGrants.Tables.FrameCount(domain) : 0;
            op.MaxFrameCount = GrantTables<DirectMap, Io.MachineIo.Permits>.MaxFrames;
            return WriteBack(vcpu, address, op);
        }

        /// <summary>struct gnttab_dump_table {domid_t dom; int16_t status}: a debugging aid; Keel prints nothing and answers okay.</summary>
        private struct DumpTableArgs { internal ushort Domain; internal short Status; }

        private static long DumpTable(Vcpu vcpu, ulong address)
        {
            if (!GuestMemory.TryRead(vcpu, address, out DumpTableArgs op)) return Errno.EFAULT;
            op.Status = TableOwner(vcpu, op.Domain, out _);
            return WriteBack(vcpu, address, op);
        }

        /// <summary>set_version {uint32 version}: version 1 is the one offered; 2 is -ENOSYS until its status frames
        /// exist; anything else -EINVAL. The version in force is written back, as Xen does.</summary>
        private static long SetVersion(Vcpu vcpu, ulong address)
        {
            if (!GuestMemory.TryRead(vcpu, address, out uint version)) return Errno.EFAULT;
            long rc = version == 1 ? 0 : version == 2 ? Errno.ENOSYS : Errno.EINVAL;
            uint current = 1;
            return GuestMemory.TryWrite(vcpu, address, new ReadOnlySpan<byte>(&current, 4)) ? rc : Errno.EFAULT;
        }

        /// <summary>struct gnttab_get_version {domid_t dom; uint16_t pad; uint32_t version (out)}.</summary>
        private struct GetVersionArgs { internal ushort Domain; internal ushort Padding; internal uint Version; }

        private static long GetVersion(Vcpu vcpu, ulong address)
        {
            if (!GuestMemory.TryRead(vcpu, address, out GetVersionArgs op)) return Errno.EFAULT;
            if (TableOwner(vcpu, op.Domain, out _) != GrantStatus.Okay) return Errno.ESRCH;
            op.Version = 1;
            return WriteBack(vcpu, address, op);
        }

        private static long WriteBack<T>(Vcpu vcpu, ulong address, T op) where T : unmanaged =>
            GuestMemory.TryWrite(vcpu, address, new ReadOnlySpan<byte>(&op, sizeof(T))) ? 0 : Errno.EFAULT;
    }
}

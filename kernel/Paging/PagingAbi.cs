using System.Runtime.InteropServices;

namespace Keel.Kernel.Paging
{
    /// <summary>One request of mmu_update (xen/include/public/xen.h, struct mmu_update; 16 bytes). The low
    /// three bits of <see cref="Ptr"/> are the command, the rest the machine address it acts on.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MmuUpdateRequest
    {
        public ulong Ptr;
        public ulong Val;

        public const uint NormalPtUpdate = 0;
        public const uint MachPhysUpdate = 1;
        public const uint PtUpdatePreserveAd = 2;

        /// <summary>As NormalPtUpdate; for a PV domain nothing is ever translated, so it is the same.</summary>
        public const uint PtUpdateNoTranslate = 3;
    }

    /// <summary>One operation of mmuext_op (xen/include/public/xen.h, struct mmuext_op; 24 bytes: the
    /// command is padded to 8). <see cref="Arg1"/> is an MFN or a linear address, <see cref="Arg2"/> an
    /// MFN, an entry count or a guest pointer to a vCPU mask, depending on the command.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MmuExtRequest
    {
        public uint Cmd;
        public ulong Arg1;
        public ulong Arg2;

        public const uint PinL1Table = 0;
        public const uint PinL2Table = 1;
        public const uint PinL3Table = 2;
        public const uint PinL4Table = 3;
        public const uint UnpinTable = 4;
        public const uint NewBaseptr = 5;
        public const uint TlbFlushLocal = 6;
        public const uint InvlpgLocal = 7;
        public const uint TlbFlushMulti = 8;
        public const uint InvlpgMulti = 9;
        public const uint TlbFlushAll = 10;
        public const uint InvlpgAll = 11;
        public const uint FlushCache = 12;
        public const uint SetLdt = 13;
        public const uint NewUserBaseptr = 15;
        public const uint ClearPage = 16;
        public const uint CopyPage = 17;
        public const uint FlushCacheGlobal = 18;
        public const uint MarkSuper = 19;
        public const uint UnmarkSuper = 20;
    }

    /// <summary>update_va_mapping's flags (xen/include/public/xen.h, UVMF_*): the low two bits say what to
    /// flush, the rest whom: 0 this vCPU, 4 all of the domain's, anything else a guest pointer to a vCPU mask.</summary>
    public static class UpdateVaFlags
    {
        public const ulong None = 0;
        public const ulong TlbFlush = 1;
        public const ulong Invlpg = 2;
        public const ulong FlushTypeMask = 3;
        public const ulong Local = 0;
        public const ulong All = 4;
    }

    /// <summary>
    /// The page tables one vCPU runs on, by MFN, 0 for none (Xen's guest_table and guest_table_user).
    /// Each non-zero table holds a general and an L4 type reference, taken by NEW_BASEPTR or
    /// NEW_USER_BASEPTR and dropped when replaced or at teardown. The caller keeps one per vCPU.
    /// </summary>
    public struct VcpuTables
    {
        /// <summary>The L4 used in guest kernel mode, and by hypercalls that walk the guest's tables.</summary>
        public ulong KernelL4;

        /// <summary>The L4 used in guest user mode; 0 means the kernel's.</summary>
        public ulong UserL4;
    }

    /// <summary>Grants I/O rights, decided outside paging (the domain's iomem and ioport capabilities).</summary>
    public interface IIoPermissions
    {
        /// <summary>Xen's iomem_access_permitted(d, mfn, mfn): the domain may map this frame of I/O memory.</summary>
        bool MayMapIo(ushort domain, ulong mfn);

        /// <summary>Xen's cache_flush_permitted(d): the domain has some I/O memory or ports, so it may choose
        /// memory types in its L1 entries and ask for caches to be written back.</summary>
        bool HasIoAccess(ushort domain);
    }
}

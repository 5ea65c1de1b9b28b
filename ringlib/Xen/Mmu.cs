using System.Runtime.InteropServices;

namespace Keel.Ringlib.Xen
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
}

using System.Runtime.InteropServices;

namespace Keel.Ringlib.Xen
{
    /// <summary>start_info as a 64-bit PV guest finds it (xen/include/public/xen.h, struct start_info; 1168 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 1168)]
    public unsafe struct StartInfo
    {
        public const int MagicBytes = 32, CommandLineBytes = 1024;

        /// <summary>SIF_* flags.</summary>
        public const ulong Privileged = 1, InitialDomain = 2;

        [FieldOffset(0)] public fixed byte Magic[MagicBytes];
        [FieldOffset(32)] public ulong NrPages;
        [FieldOffset(40)] public ulong SharedInfo;
        [FieldOffset(48)] public uint Flags;
        [FieldOffset(56)] public ulong StoreMfn;
        [FieldOffset(64)] public uint StoreEvtchn;
        [FieldOffset(72)] public ulong ConsoleMfn;
        [FieldOffset(80)] public uint ConsoleEvtchn;
        [FieldOffset(88)] public ulong PtBase;
        [FieldOffset(96)] public ulong NrPtFrames;
        [FieldOffset(104)] public ulong MfnList;
        [FieldOffset(112)] public ulong ModStart;
        [FieldOffset(120)] public ulong ModLen;
        [FieldOffset(128)] public fixed byte CmdLine[CommandLineBytes];
        [FieldOffset(1152)] public ulong FirstP2mPfn;
        [FieldOffset(1160)] public ulong NrP2mFrames;
    }

    /// <summary>Offsets in shared_info and its vcpu_info array (xen/include/public/xen.h, arch-x86/xen.h).</summary>
    public static class SharedInfoLayout
    {
        public const int VcpuInfoBytes = 64, MaxVcpus = 32;
        public const int UpcallPending = 0, UpcallMask = 1, PendingSelector = 8, Cr2 = 16, Time = 32;
        public const int EventPending = MaxVcpus * VcpuInfoBytes, EventMask = EventPending + 64 * 8;
        public const int WallClockVersion = EventMask + 64 * 8, WallClockSeconds = WallClockVersion + 4, WallClockNanoseconds = WallClockVersion + 8;
        public const int Bytes = 3136;
    }
}

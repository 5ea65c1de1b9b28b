namespace Keel.Ringlib.Xen
{
    /// <summary>Hypercall numbers of the x86-64 PV ABI (xen/include/public/xen.h, __HYPERVISOR_*).</summary>
    public enum HypercallNumber : ulong
    {
        SetTrapTable = 0,
        MmuUpdate = 1,
        SetGdt = 2,
        StackSwitch = 3,
        SetCallbacks = 4,
        FpuTaskswitch = 5,
        PlatformOp = 7,
        SetDebugreg = 8,
        GetDebugreg = 9,
        UpdateDescriptor = 10,
        MemoryOp = 12,
        Multicall = 13,
        UpdateVaMapping = 14,
        SetTimerOp = 15,
        XenVersion = 17,
        ConsoleIo = 18,
        GrantTableOp = 20,
        VmAssist = 21,
        UpdateVaMappingOtherdomain = 22,
        Iret = 23,
        VcpuOp = 24,
        SetSegmentBase = 25,
        MmuextOp = 26,
        SchedOp = 29,
        CallbackOp = 30,
        EventChannelOp = 32,
        PhysdevOp = 33,
        HvmOp = 34,
        Sysctl = 35,
        Domctl = 36,
    }

    /// <summary>Error numbers hypercalls return, negated (xen/include/public/errno.h: Linux's values).</summary>
    public static class Errno
    {
        public const long EPERM = -1, ENOENT = -2, ESRCH = -3, E2BIG = -7, EAGAIN = -11, ENOMEM = -12, EACCES = -13;
        public const long EFAULT = -14, EBUSY = -16, EEXIST = -17, ENODEV = -19, EINVAL = -22, ENOSPC = -28, ENOSYS = -38, ENODATA = -61, EOPNOTSUPP = -95;
    }

    /// <summary>sched_op commands (xen/include/public/sched.h) and shutdown reasons.</summary>
    public enum SchedCommand : ulong { Yield = 0, Block = 1, Shutdown = 2, Poll = 3 }

    public enum ShutdownReason : uint { Poweroff = 0, Reboot = 1, Suspend = 2, Crash = 3, Watchdog = 4 }

    public static class ShutdownReasons
    {
        /// <summary>The reason's name as Xen's tools print it (SHUTDOWN_* without the prefix); anything past watchdog is watchdog.</summary>
        public static string Name(ShutdownReason reason) => reason switch
        {
            ShutdownReason.Poweroff => "poweroff",
            ShutdownReason.Reboot => "reboot",
            ShutdownReason.Suspend => "suspend",
            ShutdownReason.Crash => "crash",
            _ => "watchdog",
        };
    }

    /// <summary>console_io commands (xen/include/public/xen.h, CONSOLEIO_*).</summary>
    public enum ConsoleCommand : ulong { Write = 0, Read = 1 }

    /// <summary>xen_version commands (xen/include/public/version.h, XENVER_*).</summary>
    public enum VersionCommand : ulong
    {
        Version = 0, ExtraVersion = 1, CompileInfo = 2, Capabilities = 3, Changeset = 4,
        PlatformParameters = 5, GetFeatures = 6, PageSize = 7, GuestHandle = 8, CommandLine = 9, BuildId = 10,
    }

    /// <summary>
    /// struct multicall_entry (xen/include/public/xen.h, 64 bytes): a hypercall number, the result Xen writes
    /// back, and six arguments, of which hypercalls take the first five.
    /// </summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    public struct MulticallEntry
    {
        public ulong Op;
        public long Result;
        public ulong Arg1, Arg2, Arg3, Arg4, Arg5, Arg6;
    }

    /// <summary>vm_assist commands and types (xen/include/public/xen.h, VMASST_*).</summary>
    public static class VmAssistCommand
    {
        public const uint Enable = 0, Disable = 1;
    }

    public enum VmAssistType : uint
    {
        FourGbSegments = 0,
        FourGbSegmentsNotify = 1,
        WritablePagetables = 2,
        PaeExtendedCr3 = 3,
        ArchitecturalIopl = 4,
        RunstateUpdateFlag = 5,
        M2pStrict = 32,
    }

    /// <summary>set_segment_base's first argument (xen/include/public/arch-x86/xen-x86_64.h, SEGBASE_*).</summary>
    public enum SegmentBaseRegister : uint
    {
        Fs = 0,
        GsUser = 1,
        GsKernel = 2,

        /// <summary>Loads the second argument as a selector into the guest user mode's GS.</summary>
        GsUserSelector = 3,
    }

    /// <summary>
    /// The flat ring-3 selectors every 64-bit PV guest loads, in the hypervisor's part of the GDT
    /// (xen/include/public/arch-x86/xen-x86_64.h, FLAT_RING3_*): 32-bit code, data (and stack), 64-bit code.
    /// </summary>
    public static class FlatSelectors
    {
        public const ushort Code32 = 0xE023, Data = 0xE02B, Code64 = 0xE033;
    }
}

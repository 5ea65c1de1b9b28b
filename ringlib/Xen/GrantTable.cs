using System.Runtime.InteropServices;

namespace Keel.Ringlib.Xen
{
    /// <summary>grant_table_op commands (xen/include/public/grant_table.h, GNTTABOP_*).</summary>
    public enum GrantTableCommand : ulong
    {
        MapGrantRef = 0,
        UnmapGrantRef = 1,
        SetupTable = 2,
        DumpTable = 3,
        Transfer = 4,
        Copy = 5,
        QuerySize = 6,
        UnmapAndReplace = 7,
        SetVersion = 8,
        GetStatusFrames = 9,
        GetVersion = 10,
        SwapGrantRef = 11,
        CacheFlush = 12,
    }

    /// <summary>
    /// The per-operation results grant_table_op writes into each operation's status field (enum grant_status,
    /// GNTST_*). The hypercall itself returns 0 when every operation was read and answered, whatever the
    /// statuses; a negative errno only when the arguments themselves could not be read.
    /// </summary>
    public static class GrantStatus
    {
        public const short Okay = 0, GeneralError = -1, BadDomain = -2, BadGntref = -3, BadHandle = -4;
        public const short BadVirtAddr = -5, BadDevAddr = -6, NoDeviceSpace = -7, PermissionDenied = -8;
        public const short BadPage = -9, BadCopyArg = -10, AddressTooBig = -11, Eagain = -12, NoSpace = -13;
    }

    /// <summary>
    /// A v1 grant entry (struct grant_entry_v1, 8 bytes, 512 to a 4 KiB frame): flags, the domain allowed
    /// access, and the frame (for a PV granter a machine frame number). The granter writes domid and frame,
    /// then flags; Xen sets GTF_reading and GTF_writing while the grant is mapped, and the granter may
    /// take the grant back only while both are clear.
    /// </summary>
    public static class GrantEntry
    {
        public const int Bytes = 8;
        public const int PerFrame = 4096 / Bytes;

        public const ushort Invalid = 0, PermitAccess = 1, AcceptTransfer = 2, Transitive = 3, TypeMask = 3;
        public const ushort ReadOnly = 1 << 2, Reading = 1 << 3, Writing = 1 << 4;
        public const ushort SubPage = 1 << 8;

        /// <summary>The entry as one 64-bit little-endian word: flags in bits 0-15, domid 16-31, frame 32-63.</summary>
        public static ulong Make(ushort flags, ushort domid, uint frame) => flags | (ulong)domid << 16 | (ulong)frame << 32;

        public static ushort FlagsOf(ulong entry) => (ushort)entry;

        public static ushort DomainOf(ulong entry) => (ushort)(entry >> 16);

        public static uint FrameOf(ulong entry) => (uint)(entry >> 32);

        /// <summary>The reference libxc reserves for the console page's grant to the console back-end (GNTTAB_RESERVED_CONSOLE).</summary>
        public const uint ReservedConsole = 0;

        /// <summary>The reference libxc reserves for the store page's grant to the store (GNTTAB_RESERVED_XENSTORE).</summary>
        public const uint ReservedStore = 1;
    }

    /// <summary>GNTMAP_* flags of map_grant_ref and unmap_grant_ref.</summary>
    public static class GrantMapFlags
    {
        public const uint DeviceMap = 1 << 0, HostMap = 1 << 1, ReadOnly = 1 << 2, ApplicationMap = 1 << 3, ContainsPte = 1 << 4;
    }

    /// <summary>struct gnttab_map_grant_ref (32 bytes): host_addr, flags, ref and dom in; status, handle and dev_bus_addr out.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 32)]
    public struct GrantMapRequest
    {
        [FieldOffset(0)] public ulong HostAddress;
        [FieldOffset(8)] public uint Flags;
        [FieldOffset(12)] public uint Ref;
        [FieldOffset(16)] public ushort Domain;
        [FieldOffset(18)] public short Status;
        [FieldOffset(20)] public uint Handle;
        [FieldOffset(24)] public ulong DeviceBusAddress;
    }

    /// <summary>struct gnttab_unmap_grant_ref (24 bytes): host_addr, dev_bus_addr and handle in; status out.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 24)]
    public struct GrantUnmapRequest
    {
        [FieldOffset(0)] public ulong HostAddress;
        [FieldOffset(8)] public ulong DeviceBusAddress;
        [FieldOffset(16)] public uint Handle;
        [FieldOffset(20)] public short Status;
    }

    /// <summary>struct gnttab_setup_table (24 bytes): dom and nr_frames in; status out, and nr_frames MFNs written to frame_list.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 24)]
    public struct GrantSetupTable
    {
        [FieldOffset(0)] public ushort Domain;
        [FieldOffset(4)] public uint FrameCount;
        [FieldOffset(8)] public short Status;
        [FieldOffset(16)] public ulong FrameList;
    }

    /// <summary>struct gnttab_query_size (16 bytes): dom in; nr_frames, max_nr_frames and status out.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 16)]
    public struct GrantQuerySize
    {
        [FieldOffset(0)] public ushort Domain;
        [FieldOffset(4)] public uint FrameCount;
        [FieldOffset(8)] public uint MaxFrameCount;
        [FieldOffset(12)] public short Status;
    }

    /// <summary>One side of a copy (struct gnttab_copy_ptr, 16 bytes): a grant reference or, for the caller's own
    /// memory, a frame (a machine frame for a PV domain); the domain; the offset in the page.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 16)]
    public struct GrantCopyPointer
    {
        [FieldOffset(0)] public uint Ref;
        [FieldOffset(0)] public ulong Frame;
        [FieldOffset(8)] public ushort Domain;
        [FieldOffset(10)] public ushort Offset;
    }

    /// <summary>struct gnttab_copy (40 bytes). flags say which sides are grant references (GNTCOPY_source_gref,
    /// GNTCOPY_dest_gref); neither side may cross its page.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 40)]
    public struct GrantCopyRequest
    {
        public const ushort SourceIsRef = 1 << 0, DestinationIsRef = 1 << 1;

        [FieldOffset(0)] public GrantCopyPointer Source;
        [FieldOffset(16)] public GrantCopyPointer Destination;
        [FieldOffset(32)] public ushort Length;
        [FieldOffset(34)] public ushort Flags;
        [FieldOffset(36)] public short Status;
    }
}

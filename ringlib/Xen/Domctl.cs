using System;
using System.Runtime.InteropServices;

namespace Keel.Ringlib.Xen
{
    /// <summary>
    /// domctl's wire format (xen/include/public/domctl.h): a 16-byte header then a 128-byte union. Command
    /// numbers are Xen's where Xen has the operation; Keel's own (from 0x4B00, far above Xen's) build a
    /// domain from a boot module in one step, describe a boot module, and report why a domain was crashed.
    /// </summary>
    public static unsafe class DomctlAbi
    {
        /// <summary>XEN_DOMCTL_INTERFACE_VERSION of Xen 4.17.</summary>
        public const uint InterfaceVersion = 0x15;

        public const uint CreateDomain = 1, DestroyDomain = 2, PauseDomain = 3, UnpauseDomain = 4, GetDomainInfo = 5, MaxMem = 11;
        public const uint IrqPermission = 19, IomemPermission = 20, IoportPermission = 21, AssignDevice = 37, DeassignDevice = 47;

        /// <summary>XEN_DOMCTL_DEV_PCI: assign_device's dev for a PCI device named by its machine_sbdf.</summary>
        public const uint DevicePci = 0;
        public const uint Build = 0x4B00, ModuleInfo = 0x4B01, CrashReport = 0x4B02;

        /// <summary>XEN_DOMINF_* flags, and the shutdown reason's place in them.</summary>
        public const uint Dying = 1 << 0, Shutdown = 1 << 2, Paused = 1 << 3, Blocked = 1 << 4, RunningFlag = 1 << 5;
        public const int ShutdownShift = 16;

        public const int NameBytes = 32, ModuleTextBytes = 64;

        [StructLayout(LayoutKind.Explicit, Size = 144)]
        public struct Request
        {
            [FieldOffset(0)] public uint Command;
            [FieldOffset(4)] public uint InterfaceVersion;
            [FieldOffset(8)] public ushort Domain;
            [FieldOffset(16)] public Union U;
        }

        [StructLayout(LayoutKind.Explicit, Size = 128)]
        public struct Union
        {
            [FieldOffset(0)] public DomainInfo Info;
            [FieldOffset(0)] public BuildRequest Build;
            [FieldOffset(0)] public ModuleQuery Module;
            [FieldOffset(0)] public TextBuffer Text;
            [FieldOffset(0)] public MaxMemRequest MaxMem;
            [FieldOffset(0)] public IrqPermissionRequest Irq;
            [FieldOffset(0)] public RangePermissionRequest Iomem;
            [FieldOffset(0)] public PortPermissionRequest Ioport;
            [FieldOffset(0)] public AssignDeviceRequest Device;
        }

        /// <summary>struct xen_domctl_getdomaininfo (112 bytes on x86).</summary>
        [StructLayout(LayoutKind.Explicit, Size = 112)]
        public struct DomainInfo
        {
            [FieldOffset(0)] public ushort Domain;
            [FieldOffset(4)] public uint Flags;
            [FieldOffset(8)] public ulong TotalPages;
            [FieldOffset(16)] public ulong MaxPages;
            [FieldOffset(24)] public ulong OutstandingPages;
            [FieldOffset(32)] public ulong SharedPages;
            [FieldOffset(40)] public ulong PagedPages;
            [FieldOffset(48)] public ulong SharedInfoFrame;
            [FieldOffset(56)] public ulong CpuTime;
            [FieldOffset(64)] public uint OnlineVcpus;
            [FieldOffset(68)] public uint MaxVcpuId;
            [FieldOffset(72)] public uint SsidRef;
            [FieldOffset(76)] public fixed byte Handle[16];
            [FieldOffset(92)] public uint CpuPool;
            [FieldOffset(96)] public byte GuestPhysicalAddressBits;
        }

        /// <summary>Keel's build request: module index, memory, BVT weight and warp, name, command line in; out,
        /// what libxl learns from building a domain and hands to xenconsoled and xenstored: the domain's console
        /// and store ports (unbound, offered to the control domain) and the machine frames of its console and
        /// store pages (granted to the control domain at GNTTAB_RESERVED_CONSOLE and _XENSTORE).</summary>
        [StructLayout(LayoutKind.Explicit, Size = 104)]
        public struct BuildRequest
        {
            [FieldOffset(0)] public uint Module;
            [FieldOffset(4)] public uint MemoryMiB;
            [FieldOffset(8)] public uint Weight;
            [FieldOffset(12)] public uint CommandLineLength;
            [FieldOffset(16)] public ulong CommandLine;
            [FieldOffset(24)] public fixed byte Name[NameBytes];
            [FieldOffset(56)] public ulong WarpNs;
            [FieldOffset(64)] public ulong WarpLimitNs;
            [FieldOffset(72)] public ulong UnwarpNs;
            [FieldOffset(80)] public uint ConsolePort;
            [FieldOffset(84)] public uint StorePort;
            [FieldOffset(88)] public ulong ConsoleMfn;
            [FieldOffset(96)] public ulong StoreMfn;
        }

        [StructLayout(LayoutKind.Explicit, Size = 80)]
        public struct ModuleQuery
        {
            [FieldOffset(0)] public uint Index;
            [FieldOffset(8)] public ulong Bytes;
            [FieldOffset(16)] public fixed byte Text[ModuleTextBytes];
        }

        /// <summary>A guest buffer: where, and how long (in: its size; out: the bytes written).</summary>
        [StructLayout(LayoutKind.Explicit, Size = 16)]
        public struct TextBuffer
        {
            [FieldOffset(0)] public ulong Address;
            [FieldOffset(8)] public uint Length;
        }

        /// <summary>struct xen_domctl_max_mem.</summary>
        [StructLayout(LayoutKind.Explicit, Size = 8)]
        public struct MaxMemRequest
        {
            [FieldOffset(0)] public ulong MaxKilobytes;
        }

        /// <summary>struct xen_domctl_irq_permission: a pirq (for a line, its GSI) the domain may map, or may no longer.</summary>
        [StructLayout(LayoutKind.Explicit, Size = 8)]
        public struct IrqPermissionRequest
        {
            [FieldOffset(0)] public uint Pirq;
            [FieldOffset(4)] public byte Allow;
        }

        /// <summary>struct xen_domctl_iomem_permission: machine frames first .. first + count - 1.</summary>
        [StructLayout(LayoutKind.Explicit, Size = 24)]
        public struct RangePermissionRequest
        {
            [FieldOffset(0)] public ulong First;
            [FieldOffset(8)] public ulong Count;
            [FieldOffset(16)] public byte Allow;
        }

        /// <summary>struct xen_domctl_ioport_permission: I/O ports first .. first + count - 1.</summary>
        [StructLayout(LayoutKind.Explicit, Size = 12)]
        public struct PortPermissionRequest
        {
            [FieldOffset(0)] public uint First;
            [FieldOffset(4)] public uint Count;
            [FieldOffset(8)] public byte Allow;
        }

        /// <summary>struct xen_domctl_assign_device for a PCI device (dev = DevicePci).</summary>
        [StructLayout(LayoutKind.Explicit, Size = 12)]
        public struct AssignDeviceRequest
        {
            [FieldOffset(0)] public uint Device;
            [FieldOffset(4)] public uint Flags;
            [FieldOffset(8)] public uint MachineSbdf;
        }

        /// <summary>ASCII up to the first NUL or max bytes; anything outside printable ASCII becomes '?'.</summary>
        public static string Text(byte* text, int max)
        {
            int length = 0;
            while (length < max && text[length] != 0) length++;
            return Text(new ReadOnlySpan<byte>(text, length));
        }

        public static string Text(ReadOnlySpan<byte> text)
        {
            Span<char> chars = text.Length <= 1024 ? stackalloc char[text.Length] : new char[text.Length];
            for (int i = 0; i < text.Length; i++) chars[i] = text[i] >= 0x20 && text[i] < 0x7F ? (char)text[i] : '?';
            return new string(chars);
        }

        /// <summary>Writes value NUL-terminated and NUL-padded into max bytes, cut short if it does not fit.</summary>
        public static void SetText(byte* text, int max, string value)
        {
            for (int i = 0; i < max; i++) text[i] = i < value.Length && i < max - 1 ? (byte)value[i] : (byte)0;
        }
    }
}

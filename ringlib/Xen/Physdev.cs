using System.Runtime.InteropServices;

namespace Keel.Ringlib.Xen
{
    /// <summary>
    /// physdev_op (33)'s wire format (xen/include/public/physdev.h) for what a driver domain does with a
    /// device it was given: map its interrupt line to a pirq, learn whether it must end each interrupt,
    /// end it, and set how the line signals. Xen has no operation for PCI configuration space (its PV
    /// domains reach ports 0xCF8/0xCFC through instruction emulation); Keel's two, from 0x4B00 far above
    /// Xen's numbers, read and write one register of a device the caller may reach.
    /// </summary>
    public static class PhysdevAbi
    {
        public const uint IrqStatusQuery = 5, Eoi = 12, MapPirq = 13, UnmapPirq = 14, SetupGsi = 21;
        public const uint PciConfigRead = 0x4B00, PciConfigWrite = 0x4B01;

        /// <summary>MAP_PIRQ_TYPE_GSI: a line of an interrupt controller (the only type Keel maps; MSI is -EOPNOTSUPP).</summary>
        public const int MapPirqTypeMsi = 0, MapPirqTypeGsi = 1;

        /// <summary>XENIRQSTAT_needs_eoi: the line stays masked until the domain issues PHYSDEVOP_eoi.</summary>
        public const uint NeedsEoi = 1;

        /// <summary>struct physdev_eoi and the irq of struct physdev_irq_status_query (flags out).</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct IrqStatus
        {
            public uint Irq;
            public uint Flags;
        }

        /// <summary>struct physdev_map_pirq (40 bytes): for a GSI, index is the line and pirq comes back (-1 in: any).</summary>
        [StructLayout(LayoutKind.Explicit, Size = 40)]
        public struct MapPirqArgs
        {
            [FieldOffset(0)] public ushort Domain;
            [FieldOffset(4)] public int Type;
            [FieldOffset(8)] public int Index;
            [FieldOffset(12)] public int Pirq;
            [FieldOffset(16)] public int Bus;
            [FieldOffset(20)] public int DevFn;
            [FieldOffset(24)] public int EntryNumber;
            [FieldOffset(32)] public ulong TableBase;
        }

        /// <summary>struct physdev_unmap_pirq.</summary>
        [StructLayout(LayoutKind.Explicit, Size = 8)]
        public struct UnmapPirqArgs
        {
            [FieldOffset(0)] public ushort Domain;
            [FieldOffset(4)] public int Pirq;
        }

        /// <summary>struct physdev_setup_gsi: triggering 1 level / 0 edge, polarity 1 active low / 0 active high (ACPI's encoding).</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct SetupGsiArgs
        {
            public int Gsi;
            public byte Triggering;
            public byte Polarity;
        }

        /// <summary>Keel's configuration-space access: a device by Xen's machine_sbdf (segment 16 bits, bus 8, device 5,
        /// function 3), a register offset below 256 aligned to its width of 1, 2 or 4 bytes, and the value (out for a read).</summary>
        [StructLayout(LayoutKind.Explicit, Size = 12)]
        public struct PciConfigArgs
        {
            [FieldOffset(0)] public uint Sbdf;
            [FieldOffset(4)] public ushort Offset;
            [FieldOffset(6)] public byte Width;
            [FieldOffset(8)] public uint Value;
        }
    }
}

using Keel.Kernel.Arch.X64;

namespace Keel.Kernel.Devices
{
    /// <summary>
    /// PCI configuration space through configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2): the
    /// register's address goes to port 0xCF8 (enable bit 31, bus 16-23, device 11-15, function 8-10,
    /// dword offset 2-7) and the data is read or written at 0xCFC plus the byte offset within the dword.
    /// The kernel is the only user of the two ports (domains go through physdev_op), and it runs on one CPU
    /// with interrupts off in hypercalls, so an address and its data access are never split. Segment 0 only.
    /// </summary>
    internal static class PciConfig
    {
        private static readonly Port Address = new Port(0xCF8);
        private static readonly Port Data = new Port(0xCFC);

        /// <summary>An absent device answers all ones.</summary>
        internal const uint Absent = 0xFFFF_FFFF;

        /// <summary>Offset aligned to width (1, 2 or 4) and below 256; sbdf in Xen's encoding with segment 0.</summary>
        internal static uint Read(uint sbdf, int offset, int width)
        {
            Select(sbdf, offset);
            Port at = Data.Offset((ushort)(offset & 3));
            return width == 1 ? at.Read8() : width == 2 ? at.Read16() : at.Read32();
        }

        internal static void Write(uint sbdf, int offset, int width, uint value)
        {
            Select(sbdf, offset);
            Port at = Data.Offset((ushort)(offset & 3));
            if (width == 1) at.Write8((byte)value);
            else if (width == 2) at.Write16((ushort)value);
            else at.Write32(value);
        }

        private static void Select(uint sbdf, int offset) => Address.Write32(0x8000_0000u | ((sbdf & 0xFFFF) << 8) | ((uint)offset & 0xFC));
    }
}

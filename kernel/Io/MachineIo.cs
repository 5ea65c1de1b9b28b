using System;
using Keel.Kernel.Arch.X64;
using Keel.Kernel.Devices;
using Keel.Kernel.Diagnostics;
using Keel.Kernel.Events;
using Keel.Kernel.Memory;
using Keel.Kernel.Paging;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Io
{
    /// <summary>
    /// The machine's device assignment: the domains' I/O permissions, the PCI devices given away, and the
    /// I/O APIC's lines routed to domains' event channels (vectors from <see cref="FirstLineVector"/>, one
    /// a line). What the kernel itself drives is never given: the APIC window (I/O APIC, HPET, local APIC
    /// and the MSI address range at 0xFEC00000-0xFEFFFFFF), the ports of the PICs, the PIT, the CMOS
    /// clock, the VGA cursor, COM1, PCI configuration and the exit device, and the lines of the PIT (0),
    /// the PIC cascade (2) and COM1 (4).
    /// </summary>
    internal static class MachineIo
    {
        internal const byte FirstLineVector = 0x40;

        private const ulong MachineFrames = 1UL << 40, Ports = 65536;

        internal static IoPermissions Permissions { get; private set; }
        internal static DeviceAssignments Devices { get; private set; }
        internal static InterruptLines<IoApicPins> Lines { get; private set; }

        internal static void Initialise(int domains)
        {
            var memory = new RangeSet();
            memory.Add(0xFEC00, 0xFEFFF);
            var ports = new RangeSet();
            ports.Add(0x20, 0x21);
            ports.Add(0x40, 0x43);
            ports.Add(0x61, 0x61);
            ports.Add(0x70, 0x71);
            ports.Add(0xA0, 0xA1);
            ports.Add(0xF4, 0xF4);
            ports.Add(0x3D4, 0x3D5);
            ports.Add(0x3F8, 0x3FF);
            ports.Add(0xCF8, 0xCFF);
            var lines = new RangeSet();
            lines.Add(0, 0);
            lines.Add(2, 2);
            lines.Add(4, 4);
            // Filled one by one: an array initialiser of constants needs a runtime helper the kernel does not have.
            var reserved = new RangeSet[3];
            reserved[(int)IoResource.Memory] = memory;
            reserved[(int)IoResource.Ports] = ports;
            reserved[(int)IoResource.Irqs] = lines;
            var limits = new ulong[3];
            limits[(int)IoResource.Memory] = MachineFrames;
            limits[(int)IoResource.Ports] = Ports;
            limits[(int)IoResource.Irqs] = InterruptLines<IoApicPins>.MaxLines;
            Permissions = new IoPermissions(domains, reserved, limits);
            Devices = new DeviceAssignments();
            Lines = new InterruptLines<IoApicPins>(domains, IoApic.Pins, default);
        }

        internal static bool IsLineVector(ulong vector) => vector >= FirstLineVector && vector < FirstLineVector + (ulong)Lines.LineCount;

        /// <summary>A device line fired: mask it (if level) and raise the bound domains' ports; the caller ends it at the local APIC.</summary>
        internal static void Interrupt(ulong vector)
        {
            Span<LineTarget> targets = stackalloc LineTarget[InterruptLines<IoApicPins>.MaxSharers];
            int line = (int)(vector - FirstLineVector);
            int n = Lines.Fire(line, targets);
            for (int i = 0; i < n; i++) MachineEvents.Channels.RaisePirq(targets[i].Domain, targets[i].Port, line);
        }

        /// <summary>
        /// Gives a PCI device to a domain: it must answer (a vendor id) and have a type 0 header (bridges stay
        /// with the kernel). Its MSI and MSI-X capabilities, found on the capability list, become closed to
        /// the owner's writes.
        /// </summary>
        internal static long Assign(uint sbdf, ushort domain)
        {
            if ((sbdf >> 16) != 0) return Errno.ENODEV;
            if ((PciConfig.Read(sbdf, 0, 2) & 0xFFFF) == 0xFFFF) return Errno.ENODEV;
            if ((PciConfig.Read(sbdf, 0x0E, 1) & 0x7F) != 0) return Errno.EINVAL;
            Span<ushort> starts = stackalloc ushort[DeviceAssignments.ClosedRangesPerDevice];
            Span<ushort> ends = stackalloc ushort[DeviceAssignments.ClosedRangesPerDevice];
            int closed = InterruptCapabilities(sbdf, starts, ends);
            return Devices.Assign(sbdf, domain, starts.Slice(0, closed), ends.Slice(0, closed));
        }

        /// <summary>
        /// The MSI (id 5, up to 24 bytes) and MSI-X (id 0x11, 12 bytes) capabilities (PCI Local Bus 3.0,
        /// 6.7 and 6.8): the list starts at 0x34 if status bit 4 says there is one; at most 48 steps, since a
        /// device can hand back a list that loops.
        /// </summary>
        private static int InterruptCapabilities(uint sbdf, Span<ushort> starts, Span<ushort> ends)
        {
            int found = 0;
            if ((PciConfig.Read(sbdf, 0x06, 2) & (1 << 4)) == 0) return 0;
            int at = (int)(PciConfig.Read(sbdf, 0x34, 1) & 0xFC);
            for (int step = 0; step < 48 && at >= 0x40 && found < starts.Length; step++)
            {
                uint id = PciConfig.Read(sbdf, at, 1);
                if (id == 0x05 || id == 0x11)
                {
                    starts[found] = (ushort)at;
                    ends[found] = (ushort)Math.Min(at + (id == 0x05 ? 24 : 12), DeviceAssignments.ConfigBytes);
                    found++;
                }
                at = (int)(PciConfig.Read(sbdf, at + 1, 1) & 0xFC);
            }
            return found;
        }

        /// <summary>
        /// Everything of an ending domain's hardware comes back: its lines are unbound and masked, and each
        /// of its devices has bus mastering, memory and I/O decoding turned off and INTx disabled (command
        /// register bits 2, 1, 0 and 10; PCI Local Bus 3.0, 6.2.2), so that no DMA of its device reaches its
        /// frames once they are freed and no line stays asserted for a domain that is gone. Then its
        /// permissions are forgotten. Called before the domain's memory is reclaimed.
        /// </summary>
        internal static void RemoveDomain(ushort domain)
        {
            Lines.RemoveDomain(domain);
            Span<uint> released = stackalloc uint[DeviceAssignments.Capacity];
            int n = Devices.RemoveDomain(domain, released);
            for (int i = 0; i < n; i++)
            {
                uint command = PciConfig.Read(released[i], 0x04, 2);
                PciConfig.Write(released[i], 0x04, 2, (command & ~0x7u) | (1u << 10));
                Console.Write("keel: PCI ");
                WriteSbdf(released[i]);
                Console.WriteLine(" quiesced (bus mastering and decoding off) and taken back");
            }
            Permissions.RemoveDomain(domain);
        }

        internal static void WriteSbdf(uint sbdf)
        {
            Console.HexByte((byte)(sbdf >> 8));
            Console.Write(':');
            Console.HexByte((byte)((sbdf >> 3) & 0x1F));
            Console.Write('.');
            Console.Decimal(sbdf & 7);
        }

        /// <summary>Xen's iomem and cache-flush permission checks, over the machine's permission sets.</summary>
        internal struct Permits : IIoPermissions
        {
            public bool MayMapIo(ushort domain, ulong mfn) => Permissions != null && Permissions.Permits(domain, IoResource.Memory, mfn, mfn);

            public bool HasIoAccess(ushort domain) => Permissions != null && Permissions.HasIoAccess(domain);
        }

        /// <summary>The I/O APIC's pins, line n on vector FirstLineVector + n, to this CPU.</summary>
        internal struct IoApicPins : IInterruptPins
        {
            public void Route(int line, bool level, bool activeLow) => IoApic.RouteLine(line, (byte)(FirstLineVector + line), LocalApic.Id, level, activeLow);

            public void Mask(int line) => IoApic.Mask(line);

            public void Unmask(int line) => IoApic.Unmask(line);
        }
    }
}

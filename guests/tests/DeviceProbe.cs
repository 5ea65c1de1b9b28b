using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// device=SBDF: what a domain given one PCI device (the manifest's pci key) can and cannot reach through
    /// the kernel. It scans bus 0, reads and writes the device's configuration space, maps the virtio common
    /// configuration from the BAR its capability names, tries a frame past that BAR, and maps, binds and
    /// ends its interrupt line; each outcome is a line the system test checks.
    /// </summary>
    internal static unsafe class DeviceProbe
    {
        internal static void Run(string argument)
        {
            uint sbdf = (uint)Arguments.Number(argument);
            Scan(sbdf);
            ConfigurationWrites(sbdf);
            Registers(sbdf);
            Interrupt(sbdf);
            DomainConsole.WriteLine("device: done");
        }

        /// <summary>Every function of bus 0: only the given device answers; the others are refused as absent.</summary>
        private static void Scan(uint given)
        {
            int seen = 0, refused = 0;
            for (uint slot = 0; slot < 32 * 8; slot++)
            {
                long rc = Physdev.ReadConfig(slot, 0, 4, out uint id);
                if (rc == Errno.ENODEV) refused++;
                else if (rc == 0 && (id & 0xFFFF) != 0xFFFF)
                {
                    seen++;
                    DomainConsole.WriteLine("device: bus 0 shows " + Name(slot) + " " + DomainConsole.Hex(id & 0xFFFF, 4) + ":" + DomainConsole.Hex(id >> 16, 4));
                }
            }
            DomainConsole.WriteLine("device: " + DomainConsole.Decimal(seen) + " function answers, " + DomainConsole.Decimal(refused) + " refused with -ENODEV");
            DomainConsole.WriteLine("device: the given one is " + Name(given));
            DomainConsole.WriteLine("device: writing the host bridge: " + DomainConsole.Decimal(Physdev.WriteConfig(0, 0x04, 2, 0)));
            DomainConsole.WriteLine("device: reading past the configuration space: " + DomainConsole.Decimal(Physdev.ReadConfig(given, 0x100, 4, out _)));
            DomainConsole.WriteLine("device: an unaligned read: " + DomainConsole.Decimal(Physdev.ReadConfig(given, 0x02, 4, out _)));
        }

        /// <summary>The command register is the owner's to write; BAR0 and the ROM base are not.</summary>
        private static void ConfigurationWrites(uint sbdf)
        {
            Physdev.ReadConfig(sbdf, 0x04, 2, out uint command);
            DomainConsole.WriteLine("device: enabling memory decoding and bus mastering: " + DomainConsole.Decimal(Physdev.WriteConfig(sbdf, 0x04, 2, command | 0x6)));
            DomainConsole.WriteLine("device: moving BAR0: " + DomainConsole.Decimal(Physdev.WriteConfig(sbdf, 0x10, 4, 0)));
            DomainConsole.WriteLine("device: writing the ROM base: " + DomainConsole.Decimal(Physdev.WriteConfig(sbdf, 0x30, 4, 0)));
        }

        /// <summary>
        /// The virtio common configuration (virtio 1.2, 4.1.4.3): a vendor capability (id 9) of cfg_type 1 names
        /// its BAR and offset; num_queues is the u16 at 0x12 of it. The frame right after the BAR was not given.
        /// </summary>
        private static void Registers(uint sbdf)
        {
            Physdev.ReadConfig(sbdf, 0x34, 1, out uint at);
            for (int step = 0; step < 48 && at >= 0x40; step++)
            {
                Physdev.ReadConfig(sbdf, (int)at, 4, out uint head);
                if ((head & 0xFF) == 0x09 && ((head >> 24) & 0xFF) == 1)
                {
                    Physdev.ReadConfig(sbdf, (int)at + 4, 1, out uint bar);
                    Physdev.ReadConfig(sbdf, (int)at + 8, 4, out uint offset);
                    Map(sbdf, (int)bar, offset);
                    return;
                }
                at = (head >> 8) & 0xFC;
            }
            DomainConsole.WriteLine("device: no virtio common configuration");
        }

        private static void Map(uint sbdf, int bar, uint offset)
        {
            Physdev.ReadConfig(sbdf, 0x10 + 4 * bar, 4, out uint low);
            Physdev.ReadConfig(sbdf, 0x14 + 4 * bar, 4, out uint high);
            ulong address = (low & ~0xFUL) | (((low >> 1) & 3) == 2 ? (ulong)high << 32 : 0);
            ulong frame = (address + offset) / Memory.PageSize;
            ulong va = Pages.MapIo(frame, 1);
            if (va == 0)
            {
                DomainConsole.WriteLine("device: mapping BAR" + DomainConsole.Decimal(bar) + " was refused");
                return;
            }
            ushort queues = *(ushort*)(va + (offset % Memory.PageSize) + 0x12);
            DomainConsole.WriteLine("device: BAR" + DomainConsole.Decimal(bar) + " mapped; the common configuration says " + DomainConsole.Decimal(queues) + " queue(s)");
            ulong window = Pages.TakeWindow(1);
            // QEMU's virtio BAR is 16 KiB: four frames from its base. The next frame belongs to nobody's permission.
            ulong beyond = address / Memory.PageSize + 4;
            long rc = Memory.UpdateVaMapping(window, beyond * Memory.PageSize | 0x7B, UpdateVaFlags.Invlpg);
            DomainConsole.WriteLine("device: mapping the frame past the BAR: " + DomainConsole.Decimal(rc));
        }

        private static void Interrupt(uint sbdf)
        {
            Physdev.ReadConfig(sbdf, 0x3C, 1, out uint line);
            DomainConsole.WriteLine("device: mapping a line not given (5): " + DomainConsole.Decimal(Physdev.MapGsi(line == 5 ? 9 : 5)));
            long pirq = Physdev.MapGsi((int)line);
            DomainConsole.WriteLine("device: mapping its line " + DomainConsole.Decimal(line) + ": pirq " + DomainConsole.Decimal(pirq));
            if (pirq < 0) return;
            long port = Events.BindPirq((int)pirq);
            DomainConsole.WriteLine("device: binding it: " + (port > 0 ? "a port" : DomainConsole.Decimal(port)));
            DomainConsole.WriteLine("device: binding it again: " + DomainConsole.Decimal(Events.BindPirq((int)pirq)));
            DomainConsole.WriteLine("device: it needs an end of interrupt: " + DomainConsole.Decimal(Physdev.IrqStatus((int)pirq)));
            DomainConsole.WriteLine("device: ending it: " + DomainConsole.Decimal(Physdev.EndOfInterrupt((int)pirq)));
            DomainConsole.WriteLine("device: mapping it for the control domain: " + DomainConsole.Decimal(Physdev.MapGsi((int)line, DomainIds.ControlDomain)));
        }

        private static string Name(uint sbdf) => Keel.Drivers.Pci.PciAddress.FromMachineSbdf(sbdf).ToString();
    }
}

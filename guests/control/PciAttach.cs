using Keel.Runtime;

namespace Keel.Guests.Control
{
    /// <summary>
    /// Giving a PCI device to a driver domain, as libxl's pci-attach does for a PV domain (libxl_pci.c,
    /// do_pci_add): every BAR the device decodes becomes an iomem or ioport permission of the domain, its
    /// interrupt line an irq permission, and then the device itself is assigned. The control domain owns
    /// every device not given away, so it may size the BARs (write all ones, read the mask back, restore;
    /// PCI Local Bus 3.0, 6.2.5.1) with decoding off meanwhile, as firmware does.
    /// </summary>
    internal static class PciAttach
    {
        private const int CommandRegister = 0x04, HeaderType = 0x0E, FirstBar = 0x10, InterruptLine = 0x3C, InterruptPin = 0x3D;
        private const uint MemoryDecode = 1 << 1, IoDecode = 1 << 0;

        /// <summary>Gives the device to domain; null on success, else why not.</summary>
        internal static string Attach(ushort domain, uint sbdf, string domainName)
        {
            if (Physdev.ReadConfig(sbdf, 0, 4, out uint id) != 0 || (id & 0xFFFF) == 0xFFFF) return "no device answers there";
            Physdev.ReadConfig(sbdf, HeaderType, 1, out uint header);
            if ((header & 0x7F) != 0) return "not a type 0 (endpoint) header";
            Physdev.ReadConfig(sbdf, CommandRegister, 2, out uint command);
            Physdev.WriteConfig(sbdf, CommandRegister, 2, command & ~(MemoryDecode | IoDecode));
            string granted = "";
            string error = null;
            for (int bar = 0; bar < 6 && error == null; bar++)
            {
                error = GrantBar(domain, sbdf, ref bar, ref granted);
            }
            Physdev.WriteConfig(sbdf, CommandRegister, 2, command);
            if (error != null) return error;
            Physdev.ReadConfig(sbdf, InterruptPin, 1, out uint pin);
            Physdev.ReadConfig(sbdf, InterruptLine, 1, out uint line);
            if (pin != 0 && line != 0 && line != 0xFF)
            {
                // QEMU's PCI lines reach the I/O APIC through the PIIX/ICH routers at the ISA-numbered pin the
                // firmware wrote to the interrupt line register, level-triggered and active high (its ACPI
                // tables say so of every PCI link). A line already bound keeps its mode (-EBUSY), which is this one.
                Physdev.SetupGsi((int)line, level: true, activeLow: false);
                long rc = Domctl.IrqPermission(domain, line, allow: true);
                if (rc != 0) return "the irq permission for line " + DomainConsole.Decimal(line) + " was refused: " + DomainConsole.Decimal(rc);
                granted += ", irq " + DomainConsole.Decimal(line);
            }
            long assigned = Domctl.AssignDevice(domain, sbdf);
            if (assigned != 0) return "assign_device was refused: " + DomainConsole.Decimal(assigned);
            DomainConsole.WriteLine("control: gave PCI " + Name(sbdf) + " (" + DomainConsole.Hex(id & 0xFFFF, 4) + ":" + DomainConsole.Hex(id >> 16, 4) + ") to "
                + domainName + " (domain " + DomainConsole.Decimal(domain) + "):" + granted);
            return null;
        }

        /// <summary>One BAR (and, for a 64-bit memory BAR, the next, which holds its upper half: bar steps past it).</summary>
        private static string GrantBar(ushort domain, uint sbdf, ref int bar, ref string granted)
        {
            int offset = FirstBar + 4 * bar;
            Physdev.ReadConfig(sbdf, offset, 4, out uint low);
            Physdev.WriteConfig(sbdf, offset, 4, uint.MaxValue);
            Physdev.ReadConfig(sbdf, offset, 4, out uint lowMask);
            Physdev.WriteConfig(sbdf, offset, 4, low);
            if (lowMask == 0) return null;
            if ((low & 1) != 0)
            {
                uint portBase = low & ~3u;
                uint ports = (~(lowMask & ~3u) + 1) & 0xFFFF;
                if (portBase == 0 || ports == 0) return null;
                long rc = Domctl.IoportPermission(domain, portBase, ports, allow: true);
                if (rc != 0) return "the ioport permission for BAR" + DomainConsole.Decimal(bar) + " was refused: " + DomainConsole.Decimal(rc);
                granted += " ports " + DomainConsole.Hex(portBase, 4) + "+" + DomainConsole.Decimal(ports);
                return null;
            }
            ulong address = low & ~0xFUL;
            ulong mask = lowMask & ~0xFUL;
            if (((low >> 1) & 3) == 2 && bar < 5)
            {
                bar++;
                int upper = FirstBar + 4 * bar;
                Physdev.ReadConfig(sbdf, upper, 4, out uint high);
                Physdev.WriteConfig(sbdf, upper, 4, uint.MaxValue);
                Physdev.ReadConfig(sbdf, upper, 4, out uint highMask);
                Physdev.WriteConfig(sbdf, upper, 4, high);
                address |= (ulong)high << 32;
                mask |= (ulong)highMask << 32;
            }
            else
            {
                mask |= 0xFFFF_FFFF_0000_0000UL;
            }
            ulong size = ~mask + 1;
            if (address == 0 || size == 0) return null;
            ulong first = address / Memory.PageSize;
            ulong frames = (address + size - 1) / Memory.PageSize - first + 1;
            long granted64 = Domctl.IomemPermission(domain, first, frames, allow: true);
            if (granted64 != 0) return "the iomem permission for BAR" + DomainConsole.Decimal(bar) + " was refused: " + DomainConsole.Decimal(granted64);
            granted += " memory " + DomainConsole.Hex(address) + "+" + DomainConsole.Decimal((long)size);
            return null;
        }

        internal static string Name(uint sbdf) =>
            DomainConsole.Hex((sbdf >> 8) & 0xFF, 2) + ":" + DomainConsole.Hex((sbdf >> 3) & 0x1F, 2) + "." + DomainConsole.Decimal(sbdf & 7);
    }
}

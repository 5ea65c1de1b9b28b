using Keel.Ringlib.Xen;

namespace Keel.Runtime
{
    /// <summary>
    /// physdev_op (33) for a driver domain: the configuration space of the devices it was given, and their
    /// interrupt lines (map the GSI to a pirq, bind a port with Events.BindPirq, end each interrupt with
    /// <see cref="EndOfInterrupt"/>). Results are Xen's codes.
    /// </summary>
    public static unsafe class Physdev
    {
        private static long Op(uint command, void* args) => Hypercall.Raw((ulong)HypercallNumber.PhysdevOp, command, (ulong)args);

        /// <summary>One register of the device's configuration space (width 1, 2 or 4, aligned); -ENODEV for a device not the domain's.</summary>
        public static long ReadConfig(uint sbdf, int offset, int width, out uint value)
        {
            PhysdevAbi.PciConfigArgs args = default;
            args.Sbdf = sbdf;
            args.Offset = (ushort)offset;
            args.Width = (byte)width;
            long rc = Op(PhysdevAbi.PciConfigRead, &args);
            value = rc == 0 ? args.Value : uint.MaxValue;
            return rc;
        }

        public static long WriteConfig(uint sbdf, int offset, int width, uint value)
        {
            PhysdevAbi.PciConfigArgs args = default;
            args.Sbdf = sbdf;
            args.Offset = (ushort)offset;
            args.Width = (byte)width;
            args.Value = value;
            return Op(PhysdevAbi.PciConfigWrite, &args);
        }

        /// <summary>PHYSDEVOP_map_pirq of a GSI for this domain (or, from the control domain, another): the pirq, or a negative errno.</summary>
        public static long MapGsi(int gsi, ushort domain = DomainIds.Self)
        {
            PhysdevAbi.MapPirqArgs args = default;
            args.Domain = domain;
            args.Type = PhysdevAbi.MapPirqTypeGsi;
            args.Index = gsi;
            args.Pirq = -1;
            long rc = Op(PhysdevAbi.MapPirq, &args);
            return rc < 0 ? rc : args.Pirq;
        }

        public static long UnmapPirq(int pirq, ushort domain = DomainIds.Self)
        {
            PhysdevAbi.UnmapPirqArgs args = default;
            args.Domain = domain;
            args.Pirq = pirq;
            return Op(PhysdevAbi.UnmapPirq, &args);
        }

        /// <summary>PHYSDEVOP_eoi: the device has been served; its line is unmasked once every sharer has said so.</summary>
        public static long EndOfInterrupt(int pirq)
        {
            uint irq = (uint)pirq;
            return Op(PhysdevAbi.Eoi, &irq);
        }

        /// <summary>PHYSDEVOP_irq_status_query: XENIRQSTAT_* flags, or a negative errno.</summary>
        public static long IrqStatus(int pirq)
        {
            PhysdevAbi.IrqStatus args = default;
            args.Irq = (uint)pirq;
            long rc = Op(PhysdevAbi.IrqStatusQuery, &args);
            return rc < 0 ? rc : args.Flags;
        }

        /// <summary>PHYSDEVOP_setup_gsi (control domain only): level or edge, active low or high.</summary>
        public static long SetupGsi(int gsi, bool level, bool activeLow)
        {
            PhysdevAbi.SetupGsiArgs args = default;
            args.Gsi = gsi;
            args.Triggering = level ? (byte)1 : (byte)0;
            args.Polarity = activeLow ? (byte)1 : (byte)0;
            return Op(PhysdevAbi.SetupGsi, &args);
        }
    }
}

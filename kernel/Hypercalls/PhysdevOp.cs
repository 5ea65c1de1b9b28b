using System;
using Keel.Kernel.Devices;
using Keel.Kernel.Io;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// physdev_op (33), what a driver domain does with the device it was given (xen/arch/x86/physdev.c):
    /// map_pirq (13) of a GSI it has the irq permission for, unmap_pirq (14), eoi (12), irq_status_query
    /// (5), and for the control domain setup_gsi (21); plus Keel's configuration-space read and write
    /// (0x4B00, 0x4B01), which only reach a device the caller owns (or, reading, any device for the
    /// control domain). Each call copies its structure in once, checks it, then acts.
    /// </summary>
    internal static unsafe class PhysdevOp
    {
        internal static long Handle(Vcpu vcpu, in HypercallArguments call)
        {
            switch (call.A1)
            {
                case PhysdevAbi.MapPirq: return MapPirq(vcpu, call.A2);
                case PhysdevAbi.UnmapPirq: return UnmapPirq(vcpu, call.A2);
                case PhysdevAbi.Eoi: return EndOfInterrupt(vcpu, call.A2);
                case PhysdevAbi.IrqStatusQuery: return IrqStatusQuery(vcpu, call.A2);
                case PhysdevAbi.SetupGsi: return SetupGsi(vcpu, call.A2);
                case PhysdevAbi.PciConfigRead: return PciConfigAccess(vcpu, call.A2, write: false);
                case PhysdevAbi.PciConfigWrite: return PciConfigAccess(vcpu, call.A2, write: true);
                default: return Errno.ENOSYS;
            }
        }

        /// <summary>
        /// A GSI to a pirq of the target domain (itself, or another for the control domain): -EINVAL for a type
        /// other than GSI (MSI needs interrupt remapping to be safe), a line that does not exist or a pirq
        /// asked for that is not the line's own number; -EPERM without the irq permission.
        /// </summary>
        private static long MapPirq(Vcpu vcpu, ulong address)
        {
            if (!GuestMemory.TryRead(vcpu, address, out PhysdevAbi.MapPirqArgs args)) return Errno.EFAULT;
            long rc = TargetDomain.ResolveErrno(vcpu, args.Domain, out ushort domain);
            if (rc != 0) return rc;
            if (args.Type != PhysdevAbi.MapPirqTypeGsi) return Errno.EINVAL;
            if (!MachineIo.Lines.IsLine(args.Index)) return Errno.EINVAL;
            if (args.Pirq != -1 && args.Pirq != args.Index) return Errno.EINVAL;
            if (!MachineIo.Permissions.Permits(domain, IoResource.Irqs, (ulong)args.Index, (ulong)args.Index)) return Errno.EPERM;
            args.Pirq = (int)MachineIo.Lines.Map(domain, args.Index);
            return GuestMemory.TryWrite(vcpu, address + 12, new ReadOnlySpan<byte>(&args.Pirq, 4)) ? 0 : Errno.EFAULT;
        }

        private static long UnmapPirq(Vcpu vcpu, ulong address)
        {
            if (!GuestMemory.TryRead(vcpu, address, out PhysdevAbi.UnmapPirqArgs args)) return Errno.EFAULT;
            long rc = TargetDomain.ResolveErrno(vcpu, args.Domain, out ushort domain);
            return rc != 0 ? rc : MachineIo.Lines.Unmap(domain, args.Pirq);
        }

        private static long EndOfInterrupt(Vcpu vcpu, ulong address)
        {
            if (!GuestMemory.TryRead(vcpu, address, out uint pirq)) return Errno.EFAULT;
            return pirq > int.MaxValue ? Errno.EINVAL : MachineIo.Lines.EndOfInterrupt(vcpu.Domain.Id, (int)pirq);
        }

        private static long IrqStatusQuery(Vcpu vcpu, ulong address)
        {
            if (!GuestMemory.TryRead(vcpu, address, out PhysdevAbi.IrqStatus args)) return Errno.EFAULT;
            if (args.Irq > int.MaxValue || !MachineIo.Lines.IsLine((int)args.Irq)) return Errno.EINVAL;
            args.Flags = MachineIo.Lines.NeedsEoi((int)args.Irq) ? PhysdevAbi.NeedsEoi : 0;
            return GuestMemory.TryWrite(vcpu, address, new ReadOnlySpan<byte>(&args, sizeof(PhysdevAbi.IrqStatus))) ? 0 : Errno.EFAULT;
        }

        /// <summary>How a line signals, which the control domain learns from the platform (ACPI's _PRT on real machines).</summary>
        private static long SetupGsi(Vcpu vcpu, ulong address)
        {
            if (!vcpu.Domain.Privileged) return Errno.EPERM;
            if (!GuestMemory.TryRead(vcpu, address, out PhysdevAbi.SetupGsiArgs args)) return Errno.EFAULT;
            if (args.Triggering > 1 || args.Polarity > 1) return Errno.EINVAL;
            return MachineIo.Lines.Configure(args.Gsi, args.Triggering == 1, args.Polarity == 1);
        }

        /// <summary>
        /// One register of a device's configuration space: -EINVAL for a width or offset mechanism #1 cannot
        /// make, -ENODEV for a device that is not the caller's (or not segment 0), -EPERM for a write it may
        /// not make (<see cref="DeviceAssignments.Check"/>). A read's value is written back into the structure.
        /// </summary>
        private static long PciConfigAccess(Vcpu vcpu, ulong address, bool write)
        {
            if (!GuestMemory.TryRead(vcpu, address, out PhysdevAbi.PciConfigArgs args)) return Errno.EFAULT;
            long rc = DeviceAssignments.CheckShape(args.Offset, args.Width);
            if (rc != 0) return rc;
            if ((args.Sbdf >> 16) != 0) return Errno.ENODEV;
            rc = MachineIo.Devices.Check(args.Sbdf, vcpu.Domain.Id, vcpu.Domain.Privileged, args.Offset, args.Width, write);
            if (rc != 0) return rc;
            if (write)
            {
                PciConfig.Write(args.Sbdf, args.Offset, args.Width, args.Value);
                return 0;
            }
            args.Value = PciConfig.Read(args.Sbdf, args.Offset, args.Width);
            return GuestMemory.TryWrite(vcpu, address + 8, new ReadOnlySpan<byte>(&args.Value, 4)) ? 0 : Errno.EFAULT;
        }
    }
}

using System;
using Keel.Kernel.Boot;
using Keel.Kernel.Domains;
using Keel.Kernel.Io;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Kernel.Paging;
using Keel.Kernel.Scheduling;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// domctl (36), the control domain's privileged operations on other domains, with Xen's structure
    /// (xen/include/public/domctl.h: struct xen_domctl, 16-byte header then a 128-byte union) and command
    /// numbers where Xen has them: destroydomain, pausedomain, unpausedomain, getdomaininfo, max_mem,
    /// irq_permission, iomem_permission, ioport_permission, assign_device and deassign_device.
    /// Xen's createdomain makes an empty domain that the toolstack then fills through foreign mappings; Keel
    /// has no foreign mappings yet, so it builds a domain in one step from a boot module (DomctlAbi.Build)
    /// and answers createdomain -EOPNOTSUPP. Any caller but the control domain gets -EPERM; a wrong
    /// interface version -EACCES (as Xen); an unknown command -ENOSYS.
    /// </summary>
    internal static unsafe class Domctl
    {
        internal static long Handle(Vcpu vcpu, ulong argument)
        {
            if (!vcpu.Domain.Privileged) return Errno.EPERM;
            if (!GuestMemory.TryRead(vcpu, argument, out DomctlAbi.Request request)) return Errno.EFAULT;
            if (request.InterfaceVersion != DomctlAbi.InterfaceVersion) return Errno.EACCES;
            long rc = Dispatch(vcpu, ref request);
            // Results travel back in the same structure, as Xen's copyback.
            if (rc >= 0 && !GuestMemory.TryWrite(vcpu, argument, new ReadOnlySpan<byte>(&request, sizeof(DomctlAbi.Request)))) return Errno.EFAULT;
            return rc;
        }

        private static long Dispatch(Vcpu vcpu, ref DomctlAbi.Request request)
        {
            switch (request.Command)
            {
                case DomctlAbi.CreateDomain: return Errno.EOPNOTSUPP;
                case DomctlAbi.GetDomainInfo: return GetDomainInfo(ref request);
                case DomctlAbi.Build: return Build(vcpu, ref request);
                case DomctlAbi.ModuleInfo: return ModuleInfo(ref request);
                case DomctlAbi.CrashReport: return CrashReport(vcpu, ref request);
            }
            Domain target = DomainTable.Find(request.Domain);
            if (target == null) return Errno.ESRCH;
            if (target == vcpu.Domain) return Errno.EINVAL;
            switch (request.Command)
            {
                case DomctlAbi.DestroyDomain:
                    if (target.IsAlive) DomainLifecycle.Destroy(target);
                    return 0;
                case DomctlAbi.PauseDomain:
                    if (!target.IsAlive) return Errno.EINVAL;
                    if (target.State == DomainState.Running) Scheduler.Pause(target);
                    return 0;
                case DomctlAbi.UnpauseDomain:
                    if (!target.IsAlive) return Errno.EINVAL;
                    if (target.State == DomainState.Built) return DomainLifecycle.Start(target) ? 0 : Errno.EINVAL;
                    Scheduler.Unpause(target);
                    return 0;
                case DomctlAbi.MaxMem:
                    ulong pages = request.U.MaxMem.MaxKilobytes / 4;
                    if (pages > uint.MaxValue) return Errno.EINVAL;
                    return MachinePaging.Frames.SetQuota(target.Id, (uint)pages);
                case DomctlAbi.IrqPermission:
                case DomctlAbi.IomemPermission:
                case DomctlAbi.IoportPermission:
                case DomctlAbi.AssignDevice:
                case DomctlAbi.DeassignDevice:
                    return target.IsAlive ? DeviceControl(target, ref request) : Errno.ESRCH;
                default:
                    return Errno.ENOSYS;
            }
        }

        /// <summary>
        /// Giving hardware to a driver domain (libxl's pci-attach does all of these): the irq, iomem and
        /// ioport permissions, each a range to allow or revoke, and the PCI device itself. What the kernel
        /// keeps for its own is refused with -EPERM (<see cref="MachineIo"/>); a device that does not answer
        /// -ENODEV, one another domain owns -EBUSY.
        /// </summary>
        private static long DeviceControl(Domain target, ref DomctlAbi.Request request)
        {
            switch (request.Command)
            {
                case DomctlAbi.IrqPermission:
                    return MachineIo.Permissions.Change(target.Id, IoResource.Irqs, request.U.Irq.Pirq, 1, request.U.Irq.Allow != 0);
                case DomctlAbi.IomemPermission:
                    return MachineIo.Permissions.Change(target.Id, IoResource.Memory, request.U.Iomem.First, request.U.Iomem.Count, request.U.Iomem.Allow != 0);
                case DomctlAbi.IoportPermission:
                    return MachineIo.Permissions.Change(target.Id, IoResource.Ports, request.U.Ioport.First, request.U.Ioport.Count, request.U.Ioport.Allow != 0);
                case DomctlAbi.AssignDevice:
                    if (request.U.Device.Device != DomctlAbi.DevicePci) return Errno.EINVAL;
                    return MachineIo.Assign(request.U.Device.MachineSbdf, target.Id);
                default:
                    if (request.U.Device.Device != DomctlAbi.DevicePci) return Errno.EINVAL;
                    return MachineIo.Devices.Deassign(request.U.Device.MachineSbdf, target.Id);
            }
        }

        /// <summary>
        /// XEN_DOMCTL_getdomaininfo: about the first domain whose id is at least the one asked (so the control
        /// domain can walk them all), -ESRCH past the last. An ended domain is dying (its memory is gone) and
        /// shut down, with its reason in bits 16-23; a crashed one has reason crash.
        /// </summary>
        private static long GetDomainInfo(ref DomctlAbi.Request request)
        {
            Domain domain = null;
            for (ulong id = request.Domain; id < (ulong)DomainTable.Count && domain == null; id++) domain = DomainTable.Find(id);
            if (domain == null) return Errno.ESRCH;
            ref DomctlAbi.DomainInfo info = ref request.U.Info;
            info = default;
            info.Domain = domain.Id;
            request.Domain = domain.Id;
            uint flags = 0;
            if (!domain.IsAlive) flags |= DomctlAbi.Dying | DomctlAbi.Shutdown | ((uint)domain.Reason << DomctlAbi.ShutdownShift);
            if (domain.Paused && domain.IsAlive) flags |= DomctlAbi.Paused;
            if (domain.Vcpu.Blocked) flags |= DomctlAbi.Blocked;
            if (domain.Vcpu.State == RunState.Running) flags |= DomctlAbi.RunningFlag;
            info.Flags = flags;
            info.TotalPages = MachinePaging.Frames.OwnedFrames(domain.Id);
            info.MaxPages = MachinePaging.Frames.QuotaOf(domain.Id);
            info.SharedInfoFrame = domain.SharedInfoMachine / 4096;
            info.CpuTime = domain.Vcpu.StateTime[(int)RunState.Running];
            info.OnlineVcpus = domain.IsAlive ? 1u : 0u;
            info.MaxVcpuId = 0;
            return 0;
        }

        /// <summary>
        /// Keel's build: the kernel in boot module `module`, memory MiB, BVT weight and warp, a name and a
        /// command line (a guest pointer and length). The new domain is left paused, as a Xen toolstack leaves
        /// a domain it has built; unpausedomain starts it.
        /// </summary>
        private static long Build(Vcpu vcpu, ref DomctlAbi.Request request)
        {
            ref DomctlAbi.BuildRequest build = ref request.U.Build;
            if (!BootModules.TryGet(build.Module, out BootModule module)) return Errno.ENOENT;
            if (build.MemoryMiB == 0 || build.MemoryMiB > 65536) return Errno.EINVAL;
            if (build.Weight == 0 || build.Weight > Bvt.MaxWeight) return Errno.EINVAL;
            if (build.CommandLineLength >= StartInfo.CommandLineBytes) return Errno.E2BIG;
            Span<byte> line = stackalloc byte[(int)build.CommandLineLength];
            if (!GuestMemory.TryRead(vcpu, build.CommandLine, line)) return Errno.EFAULT;
            string name;
            fixed (byte* nameBytes = build.Name) name = DomctlAbi.Text(nameBytes, DomctlAbi.NameBytes);
            if (name.Length == 0) return Errno.EINVAL;

            ulong heapBefore = Internal.Runtime.Heap.AllocatedBytes;
            Domain domain = DomainTable.Create(name, privileged: false);
            if (domain == null) return Errno.ENOSPC;
            ulong startedAt = Time.SystemClock.Now;
            domain.Weight = build.Weight;
            domain.WarpNs = build.WarpNs;
            domain.WarpLimitNs = build.WarpLimitNs;
            domain.UnwarpNs = build.UnwarpNs;
            string error = DomainBuilder.TryBuild(domain, BootModules.Bytes(module), default, (ulong)build.MemoryMiB * 256, DomctlAbi.Text(line), DomainLifecycle.Frames);
            if (error != null)
            {
                domain.CrashReport = error;
                domain.State = DomainState.Crashed;
                domain.Reason = ShutdownReason.Crash;
                return Errno.EINVAL;
            }
            request.Domain = domain.Id;
            build.ConsolePort = (uint)domain.ConsolePort;
            build.StorePort = (uint)domain.StorePort;
            build.ConsoleMfn = domain.ConsoleFrame;
            build.StoreMfn = domain.StoreFrame;
            DomainLifecycle.ReportBuilt(domain, build.MemoryMiB, Internal.Runtime.Heap.AllocatedBytes - heapBefore, Time.SystemClock.Now - startedAt);
            return 0;
        }

        /// <summary>Keel's module query: size and string of boot module `index` (the control domain finds its kernels by them).</summary>
        private static long ModuleInfo(ref DomctlAbi.Request request)
        {
            ref DomctlAbi.ModuleQuery query = ref request.U.Module;
            if (!BootModules.TryGet(query.Index, out BootModule module)) return Errno.ENOENT;
            query.Bytes = module.End - module.Start;
            fixed (byte* text = query.Text) DomctlAbi.SetText(text, DomctlAbi.ModuleTextBytes, module.Name);
            return 0;
        }

        /// <summary>Keel's crash query: why a domain was ended (its build failing, or the fault report's first line).</summary>
        private static long CrashReport(Vcpu vcpu, ref DomctlAbi.Request request)
        {
            Domain domain = DomainTable.Find(request.Domain);
            if (domain == null) return Errno.ESRCH;
            ref DomctlAbi.TextBuffer buffer = ref request.U.Text;
            string report = domain.CrashReport ?? "";
            int length = Math.Min(report.Length, (int)Math.Min(buffer.Length, 4096u));
            Span<byte> bytes = stackalloc byte[length];
            for (int i = 0; i < length; i++) bytes[i] = (byte)report[i];
            if (!GuestMemory.TryWrite(vcpu, buffer.Address, bytes)) return Errno.EFAULT;
            buffer.Length = (uint)length;
            return 0;
        }
    }
}

using System;
using Keel.Ringlib.Xen;

namespace Keel.Runtime
{
    /// <summary>What getdomaininfo says of a domain, decoded.</summary>
    public struct DomainStatus
    {
        public ushort Id;
        public uint Flags;
        public ulong TotalPages, CpuTimeNs;

        public bool HasEnded => (Flags & DomctlAbi.Shutdown) != 0;

        public ShutdownReason Reason => (ShutdownReason)((Flags >> DomctlAbi.ShutdownShift) & 0xFF);
    }

    /// <summary>The control domain's privileged operations (domctl), one wrapper each; results are Xen's codes.</summary>
    /// <summary>What building a domain gives the services that serve it: its console and store ports, offered
    /// to the control domain, and the machine frames of its console and store pages, granted to the control
    /// domain at the reserved references GNTTAB_RESERVED_CONSOLE and _XENSTORE.</summary>
    public struct DomainServices
    {
        public uint ConsolePort, StorePort;
        public ulong ConsoleFrame, StoreFrame;
    }

    public static unsafe class Domctl
    {
        private static long Call(ref DomctlAbi.Request request, uint command, ushort domain)
        {
            request.Command = command;
            request.InterfaceVersion = DomctlAbi.InterfaceVersion;
            request.Domain = domain;
            fixed (DomctlAbi.Request* pointer = &request) return Hypercall.Raw((ulong)HypercallNumber.Domctl, (ulong)pointer);
        }

        /// <summary>Builds a domain (left paused) from boot module `module`; its id on success, else a negative errno.</summary>
        public static long Build(uint module, uint memoryMiB, uint weight, string name, string commandLine, out DomainServices services,
                                 ulong warpNs = 0, ulong warpLimitNs = 0, ulong unwarpNs = 0)
        {
            DomctlAbi.Request request = default;
            ref DomctlAbi.BuildRequest build = ref request.U.Build;
            build.Module = module;
            build.MemoryMiB = memoryMiB;
            build.Weight = weight;
            build.WarpNs = warpNs;
            build.WarpLimitNs = warpLimitNs;
            build.UnwarpNs = unwarpNs;
            fixed (byte* text = build.Name) DomctlAbi.SetText(text, DomctlAbi.NameBytes, name);
            byte* line = stackalloc byte[commandLine.Length + 1];
            for (int i = 0; i < commandLine.Length; i++) line[i] = (byte)commandLine[i];
            build.CommandLine = (ulong)line;
            build.CommandLineLength = (uint)commandLine.Length;
            long rc = Call(ref request, DomctlAbi.Build, 0);
            services = new DomainServices { ConsolePort = build.ConsolePort, StorePort = build.StorePort, ConsoleFrame = build.ConsoleMfn, StoreFrame = build.StoreMfn };
            return rc < 0 ? rc : request.Domain;
        }

        public static long Unpause(ushort domain)
        {
            DomctlAbi.Request request = default;
            return Call(ref request, DomctlAbi.UnpauseDomain, domain);
        }

        public static long Pause(ushort domain)
        {
            DomctlAbi.Request request = default;
            return Call(ref request, DomctlAbi.PauseDomain, domain);
        }

        public static long Destroy(ushort domain)
        {
            DomctlAbi.Request request = default;
            return Call(ref request, DomctlAbi.DestroyDomain, domain);
        }

        public static long MaxMem(ushort domain, ulong kilobytes)
        {
            DomctlAbi.Request request = default;
            request.U.MaxMem.MaxKilobytes = kilobytes;
            return Call(ref request, DomctlAbi.MaxMem, domain);
        }

        /// <summary>XEN_DOMCTL_irq_permission: the domain may (or may no longer) map the line.</summary>
        public static long IrqPermission(ushort domain, uint line, bool allow)
        {
            DomctlAbi.Request request = default;
            request.U.Irq.Pirq = line;
            request.U.Irq.Allow = allow ? (byte)1 : (byte)0;
            return Call(ref request, DomctlAbi.IrqPermission, domain);
        }

        /// <summary>XEN_DOMCTL_iomem_permission: machine frames first .. first + count - 1.</summary>
        public static long IomemPermission(ushort domain, ulong firstFrame, ulong count, bool allow)
        {
            DomctlAbi.Request request = default;
            request.U.Iomem.First = firstFrame;
            request.U.Iomem.Count = count;
            request.U.Iomem.Allow = allow ? (byte)1 : (byte)0;
            return Call(ref request, DomctlAbi.IomemPermission, domain);
        }

        /// <summary>XEN_DOMCTL_ioport_permission: ports first .. first + count - 1.</summary>
        public static long IoportPermission(ushort domain, uint firstPort, uint count, bool allow)
        {
            DomctlAbi.Request request = default;
            request.U.Ioport.First = firstPort;
            request.U.Ioport.Count = count;
            request.U.Ioport.Allow = allow ? (byte)1 : (byte)0;
            return Call(ref request, DomctlAbi.IoportPermission, domain);
        }

        /// <summary>XEN_DOMCTL_assign_device (assign) or _deassign_device of the PCI device with that machine_sbdf.</summary>
        public static long AssignDevice(ushort domain, uint sbdf, bool assign = true)
        {
            DomctlAbi.Request request = default;
            request.U.Device.Device = DomctlAbi.DevicePci;
            request.U.Device.MachineSbdf = sbdf;
            return Call(ref request, assign ? DomctlAbi.AssignDevice : DomctlAbi.DeassignDevice, domain);
        }

        /// <summary>getdomaininfo for the first domain with an id of at least `from`.</summary>
        public static long GetInfo(ushort from, out DomainStatus status)
        {
            DomctlAbi.Request request = default;
            long rc = Call(ref request, DomctlAbi.GetDomainInfo, from);
            status = new DomainStatus
            {
                Id = request.U.Info.Domain,
                Flags = request.U.Info.Flags,
                TotalPages = request.U.Info.TotalPages,
                CpuTimeNs = request.U.Info.CpuTime,
            };
            return rc;
        }

        /// <summary>Boot module `index`: its string (e.g. "manifest", "kernel test-domain") and size.</summary>
        public static long ModuleInfo(uint index, out string text, out ulong bytes)
        {
            DomctlAbi.Request request = default;
            request.U.Module.Index = index;
            long rc = Call(ref request, DomctlAbi.ModuleInfo, 0);
            text = rc == 0 ? DomctlAbi.Text(request.U.Module.Text, DomctlAbi.ModuleTextBytes) : "";
            bytes = request.U.Module.Bytes;
            return rc;
        }

        /// <summary>Why the kernel ended a domain (empty if it was not crashed).</summary>
        public static string CrashReport(ushort domain)
        {
            byte* buffer = stackalloc byte[256];
            DomctlAbi.Request request = default;
            request.U.Text.Address = (ulong)buffer;
            request.U.Text.Length = 256;
            if (Call(ref request, DomctlAbi.CrashReport, domain) != 0) return "";
            return DomctlAbi.Text(new ReadOnlySpan<byte>(buffer, (int)request.U.Text.Length));
        }
    }
}

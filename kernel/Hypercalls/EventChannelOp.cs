using System;
using Keel.Kernel.Events;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// event_channel_op (32), with the argument structures of xen/include/public/event_channel.h:
    /// alloc_unbound (6), bind_interdomain (0), bind_virq (1), bind_pirq (2), bind_ipi (7), close (3), send (4),
    /// status (5), unmask (9) and reset (10). A domain acts on its own ports; naming another domain as the owner
    /// (alloc_unbound's dom, status's dom) is for the control domain only (-EPERM). The virtual IRQs a
    /// domain may bind are its own timer and debug IRQs; the console and domain-exception IRQs belong to
    /// the control domain.
    /// </summary>
    internal static unsafe class EventChannelOp
    {
        private const ulong BindInterdomain = 0, BindVirq = 1, BindPirq = 2, Close = 3, Send = 4, Status = 5, AllocUnbound = 6, BindIpi = 7, Unmask = 9, Reset = 10;
        private const int VirqDebug = 1;

        internal static long Handle(Vcpu vcpu, in HypercallArguments call)
        {
            switch (call.A1)
            {
                case AllocUnbound: return DoAllocUnbound(vcpu, call.A2);
                case BindInterdomain: return DoBindInterdomain(vcpu, call.A2);
                case BindVirq: return DoBindVirq(vcpu, call.A2);
                case BindIpi: return DoBindIpi(vcpu, call.A2);
                case BindPirq: return DoBindPirq(vcpu, call.A2);
                case Close: return WithPort(vcpu, call.A2, out uint c) ?? DoClose(vcpu.Domain.Id, (int)c);
                case Send: return WithPort(vcpu, call.A2, out uint s) ?? MachineEvents.Channels.Send(vcpu.Domain.Id, (int)s);
                case Unmask: return WithPort(vcpu, call.A2, out uint u) ?? MachineEvents.Channels.Unmask(vcpu.Domain.Id, (int)u);
                case Status: return DoStatus(vcpu, call.A2);
                case Reset: return DoReset(vcpu, call.A2);
                default: return Errno.ENOSYS;
            }
        }

        /// <summary>The one-port structures (close, send, unmask): the port, read in once.</summary>
        private static long? WithPort(Vcpu vcpu, ulong argument, out uint port) =>
            GuestMemory.TryRead(vcpu, argument, out port) ? null : Errno.EFAULT;

        private static ushort Remote(Vcpu vcpu, ushort alleged) => alleged == DomainIds.Self ? vcpu.Domain.Id : alleged;

        /// <summary>struct evtchn_alloc_unbound {domid_t dom, remote_dom; evtchn_port_t port (out)}.</summary>
        private struct AllocUnboundArgs { internal ushort Dom, RemoteDom; internal uint Port; }

        private static long DoAllocUnbound(Vcpu vcpu, ulong argument)
        {
            if (!GuestMemory.TryRead(vcpu, argument, out AllocUnboundArgs args)) return Errno.EFAULT;
            long rc = TargetDomain.ResolveErrno(vcpu, args.Dom, out ushort owner);
            if (rc != 0) return rc;
            ushort remote = Remote(vcpu, args.RemoteDom);
            Domain r = DomainTable.Find(remote);
            if (r == null || !r.IsAlive) return Errno.ESRCH;
            rc = MachineEvents.Channels.AllocUnbound(owner, remote, out int port);
            return rc != 0 ? rc : WriteBack(vcpu, argument + 4, (uint)port);
        }

        /// <summary>struct evtchn_bind_interdomain {domid_t remote_dom; evtchn_port_t remote_port; evtchn_port_t local_port (out)}.</summary>
        private struct BindInterdomainArgs { internal ushort RemoteDom; internal ushort Padding; internal uint RemotePort, LocalPort; }

        private static long DoBindInterdomain(Vcpu vcpu, ulong argument)
        {
            if (!GuestMemory.TryRead(vcpu, argument, out BindInterdomainArgs args)) return Errno.EFAULT;
            ushort remote = Remote(vcpu, args.RemoteDom);
            Domain r = DomainTable.Find(remote);
            if (r == null || !r.IsAlive) return Errno.ESRCH;
            if (args.RemotePort >= EventChannels<MachineEvents.KernelDelivery>.PortsPerDomain) return Errno.EINVAL;
            long rc = MachineEvents.Channels.BindInterdomain(vcpu.Domain.Id, remote, (int)args.RemotePort, out int port);
            return rc != 0 ? rc : WriteBack(vcpu, argument + 8, (uint)port);
        }

        /// <summary>struct evtchn_bind_virq {uint32 virq, vcpu; evtchn_port_t port (out)}.</summary>
        private struct BindVirqArgs { internal uint Virq, Vcpu, Port; }

        private static long DoBindVirq(Vcpu vcpu, ulong argument)
        {
            if (!GuestMemory.TryRead(vcpu, argument, out BindVirqArgs args)) return Errno.EFAULT;
            if (args.Vcpu != 0) return Errno.ENOENT;
            bool global = args.Virq == MachineEvents.VirqConsole || args.Virq == MachineEvents.VirqDomainException;
            if (args.Virq != MachineEvents.VirqTimer && args.Virq != VirqDebug && !global) return Errno.EINVAL;
            if (global && !vcpu.Domain.Privileged) return Errno.EPERM;
            long rc = MachineEvents.Channels.BindVirq(vcpu.Domain.Id, (int)args.Virq, out int port);
            return rc != 0 ? rc : WriteBack(vcpu, argument + 8, (uint)port);
        }

        /// <summary>struct evtchn_bind_pirq {uint32 pirq, flags (BIND_PIRQ__WILL_SHARE 1); evtchn_port_t port (out)}.</summary>
        private struct BindPirqArgs { internal uint Pirq, Flags, Port; }

        private const uint WillShare = 1;

        /// <summary>A port for a device line the domain has mapped (PHYSDEVOP_map_pirq): -EINVAL for one it has not,
        /// -EBUSY if another domain holds it unshared; the port is closed again if the line cannot be bound.</summary>
        private static long DoBindPirq(Vcpu vcpu, ulong argument)
        {
            if (!GuestMemory.TryRead(vcpu, argument, out BindPirqArgs args)) return Errno.EFAULT;
            ushort domain = vcpu.Domain.Id;
            if (args.Pirq > int.MaxValue || !Io.MachineIo.Lines.IsMapped(domain, (int)args.Pirq)) return Errno.EINVAL;
            if (Io.MachineIo.Lines.PortOf(domain, (int)args.Pirq) != 0) return Errno.EEXIST;
            long rc = MachineEvents.Channels.BindPirq(domain, (int)args.Pirq, out int port);
            if (rc != 0) return rc;
            rc = Io.MachineIo.Lines.Bind(domain, (int)args.Pirq, port, (args.Flags & WillShare) != 0);
            if (rc != 0)
            {
                MachineEvents.Channels.Close(domain, port);
                return rc;
            }
            return WriteBack(vcpu, argument + 8, (uint)port);
        }

        /// <summary>EVTCHNOP_close; a pirq port's line is unbound first (Xen's pirq_guest_unbind).</summary>
        private static long DoClose(ushort domain, int port)
        {
            int pirq = MachineEvents.Channels.PirqOf(domain, port);
            if (pirq >= 0) Io.MachineIo.Lines.Unbind(domain, pirq);
            return MachineEvents.Channels.Close(domain, port);
        }

        /// <summary>struct evtchn_bind_ipi {uint32 vcpu; evtchn_port_t port (out)}.</summary>
        private static long DoBindIpi(Vcpu vcpu, ulong argument)
        {
            if (!GuestMemory.TryRead(vcpu, argument, out uint target)) return Errno.EFAULT;
            if (target != 0) return Errno.ENOENT;
            long rc = MachineEvents.Channels.BindIpi(vcpu.Domain.Id, out int port);
            return rc != 0 ? rc : WriteBack(vcpu, argument + 4, (uint)port);
        }

        /// <summary>struct evtchn_status: dom, port in; status, vcpu and the state's details out (unbound: dom at 16; interdomain: dom at 16, port at 20; virq: at 16).</summary>
        private struct StatusArgs
        {
            internal ushort Dom;
            internal ushort Padding;
            internal uint Port, State, Vcpu;
            internal ushort RemoteDom;
            internal ushort Padding2;
            internal uint RemotePort;
        }

        private static long DoStatus(Vcpu vcpu, ulong argument)
        {
            if (!GuestMemory.TryRead(vcpu, argument, out StatusArgs args)) return Errno.EFAULT;
            long rc = TargetDomain.ResolveErrno(vcpu, args.Dom, out ushort owner);
            if (rc != 0) return rc;
            if (args.Port == 0 || args.Port >= EventChannels<MachineEvents.KernelDelivery>.PortsPerDomain) return Errno.EINVAL;
            args.State = (uint)MachineEvents.Channels.StateOf(owner, (int)args.Port);
            args.Vcpu = 0;
            args.RemoteDom = 0;
            args.RemotePort = 0;
            if (MachineEvents.Channels.TryGetPeer(owner, (int)args.Port, out ushort remote, out int remotePort))
            {
                args.RemoteDom = remote;
                args.RemotePort = (uint)remotePort;
            }
            return GuestMemory.TryWrite(vcpu, argument, new ReadOnlySpan<byte>(&args, sizeof(StatusArgs))) ? 0 : Errno.EFAULT;
        }

        /// <summary>struct evtchn_reset {domid_t dom}: every port of the domain closed (its own, or any for the control domain).</summary>
        private static long DoReset(Vcpu vcpu, ulong argument)
        {
            if (!GuestMemory.TryRead(vcpu, argument, out ushort alleged)) return Errno.EFAULT;
            long rc = TargetDomain.ResolveErrno(vcpu, alleged, out ushort owner);
            if (rc != 0) return rc;
            Io.MachineIo.Lines.UnbindAll(owner);
            MachineEvents.Channels.Reset(owner);
            return 0;
        }

        private static long WriteBack(Vcpu vcpu, ulong address, uint value) =>
            GuestMemory.TryWrite(vcpu, address, new ReadOnlySpan<byte>(&value, 4)) ? 0 : Errno.EFAULT;
    }
}

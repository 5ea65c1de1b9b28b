using System;
using System.Buffers.Binary;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Events
{
    /// <summary>What a port is (EVTCHNSTAT_*, xen/include/public/event_channel.h).</summary>
    public enum PortState : byte { Closed = 0, Unbound = 1, Interdomain = 2, Pirq = 3, Virq = 4, Ipi = 5 }

    /// <summary>How event channels reach a domain: its shared_info page, and a nudge when an event becomes deliverable.</summary>
    public interface IEventDelivery
    {
        /// <summary>The domain's shared_info page (4096 bytes): pending and mask bitmaps, and each vcpu_info.</summary>
        Span<byte> SharedInfo(ushort domain);

        /// <summary>An event became deliverable to the vCPU (its upcall_pending was set): wake it or deliver the upcall.</summary>
        void Kick(ushort domain, int vcpu);

        /// <summary>The port has just become pending, masked or not (what SCHEDOP_poll waits for).</summary>
        void Raised(ushort domain, int port);
    }

    /// <summary>
    /// Event channels with Xen's 2-level ABI (xen/common/event_channel.c, event_2l.c): per domain 4096 ports
    /// in a fixed table, port 0 never used; ports joined across domains (alloc_unbound then
    /// bind_interdomain), bound to a virtual IRQ or to an IPI. Sending sets the remote port's bit in
    /// evtchn_pending; if the port is not masked and its word was not already flagged, the word's bit in
    /// vcpu_info.evtchn_pending_sel and then evtchn_upcall_pending are set, in that order (so a guest that
    /// clears upcall_pending and then scans misses nothing), and the vCPU is kicked. Nothing here allocates
    /// after construction: a flood from one domain only sets bits already set.
    /// Plain logic over the delivery interface, so it is tested on the host.
    /// </summary>
    public sealed class EventChannels<TDelivery> where TDelivery : struct, IEventDelivery
    {
        public const int PortsPerDomain = 4096;
        public const int Virqs = 24;
        private const int PendingOffset = 2048, MaskOffset = 2560, VcpuInfoBytes = 64, SelectorOffset = 8;

        private struct Port
        {
            internal PortState State;
            internal ushort RemoteDomain;
            internal ushort RemotePort;
            internal byte Virq;
            internal byte Pirq;
        }

        /// <summary>Ports are kept in buckets of 64, each allocated when one of its ports is first used (as Xen's
        /// event channel buckets), so an idle domain costs only its bucket table.</summary>
        private const int BucketPorts = 64, Buckets = PortsPerDomain / BucketPorts;

        private readonly Port[][][] _ports;
        private TDelivery _delivery;

        public EventChannels(int domains, TDelivery delivery)
        {
            _ports = new Port[domains][][];
            _delivery = delivery;
        }

        /// <summary>Gives a domain its port table (all closed); done once when it is built.</summary>
        public void AddDomain(ushort domain) => _ports[domain] = new Port[Buckets][];

        /// <summary>Closes every port of an ending domain (the other ends of its interdomain ports become unbound).</summary>
        public void RemoveDomain(ushort domain)
        {
            if (!Reset(domain)) return;
            _ports[domain] = null;
        }

        /// <summary>EVTCHNOP_reset (Xen's evtchn_reset): closes every port of the domain, as a kernel about to
        /// kexec asks; the domain keeps its table. False for a domain without one.</summary>
        public bool Reset(ushort domain)
        {
            if (!Exists(domain)) return false;
            for (int p = 1; p < PortsPerDomain; p++) Close(domain, p);
            return true;
        }

        public PortState StateOf(ushort domain, int port) => IsPort(domain, port) ? Read(domain, port).State : PortState.Closed;

        /// <summary>EVTCHNOP_status's remote side: the domain an unbound port is offered to, or the other end of an interdomain one.</summary>
        public bool TryGetPeer(ushort domain, int port, out ushort remoteDomain, out int remotePort)
        {
            remoteDomain = 0;
            remotePort = 0;
            if (!IsPort(domain, port)) return false;
            Port p = Read(domain, port);
            if (p.State != PortState.Interdomain && p.State != PortState.Unbound) return false;
            remoteDomain = p.RemoteDomain;
            remotePort = p.RemotePort;
            return true;
        }

        /// <summary>EVTCHNOP_alloc_unbound: a port that remote may later bind to. -ENOSPC when every port is in use.</summary>
        public long AllocUnbound(ushort domain, ushort remote, out int port)
        {
            port = 0;
            if (!Exists(domain) || !Exists(remote)) return Errno.ESRCH;
            port = FreePort(domain);
            if (port == 0) return Errno.ENOSPC;
            Slot(domain, port) = new Port { State = PortState.Unbound, RemoteDomain = remote };
            return 0;
        }

        /// <summary>
        /// EVTCHNOP_bind_interdomain: joins a new local port to remote's unbound port, which must have been
        /// offered to this domain (-EINVAL otherwise, as Xen).
        /// </summary>
        public long BindInterdomain(ushort domain, ushort remote, int remotePort, out int port)
        {
            port = 0;
            if (!Exists(domain) || !Exists(remote)) return Errno.ESRCH;
            if (!IsPort(remote, remotePort)) return Errno.EINVAL;
            Port offered = Read(remote, remotePort);
            if (offered.State != PortState.Unbound || offered.RemoteDomain != domain) return Errno.EINVAL;
            port = FreePort(domain);
            if (port == 0) return Errno.ENOSPC;
            Slot(domain, port) = new Port { State = PortState.Interdomain, RemoteDomain = remote, RemotePort = (ushort)remotePort };
            ref Port other = ref Slot(remote, remotePort);
            other.State = PortState.Interdomain;
            other.RemotePort = (ushort)port;
            // Xen raises the new port at once, so the binder learns of anything sent before it bound.
            SetPending(domain, port);
            return 0;
        }

        /// <summary>EVTCHNOP_bind_virq: one port per virtual IRQ (-EEXIST for a second).</summary>
        public long BindVirq(ushort domain, int virq, out int port)
        {
            port = 0;
            if (!Exists(domain)) return Errno.ESRCH;
            if ((uint)virq >= Virqs) return Errno.EINVAL;
            if (VirqPort(domain, virq) != 0) return Errno.EEXIST;
            port = FreePort(domain);
            if (port == 0) return Errno.ENOSPC;
            Slot(domain, port) = new Port { State = PortState.Virq, Virq = (byte)virq };
            return 0;
        }

        /// <summary>EVTCHNOP_bind_ipi: a port the domain signals itself with.</summary>
        public long BindIpi(ushort domain, out int port)
        {
            port = 0;
            if (!Exists(domain)) return Errno.ESRCH;
            port = FreePort(domain);
            if (port == 0) return Errno.ENOSPC;
            Slot(domain, port) = new Port { State = PortState.Ipi };
            return 0;
        }

        /// <summary>EVTCHNOP_bind_pirq's port half: a port that the line pirq (below 256) raises; the caller routes the line to it.</summary>
        public long BindPirq(ushort domain, int pirq, out int port)
        {
            port = 0;
            if (!Exists(domain)) return Errno.ESRCH;
            if ((uint)pirq > byte.MaxValue) return Errno.EINVAL;
            port = FreePort(domain);
            if (port == 0) return Errno.ENOSPC;
            Slot(domain, port) = new Port { State = PortState.Pirq, Pirq = (byte)pirq };
            return 0;
        }

        /// <summary>The pirq a port is bound to, or -1 if it is not a pirq port.</summary>
        public int PirqOf(ushort domain, int port)
        {
            if (!IsPort(domain, port)) return -1;
            Port p = Read(domain, port);
            return p.State == PortState.Pirq ? p.Pirq : -1;
        }

        /// <summary>A device line fired: raises the port if it is still bound to that pirq (a port closed and reused since is left alone).</summary>
        public void RaisePirq(ushort domain, int port, int pirq)
        {
            if (PirqOf(domain, port) == pirq) SetPending(domain, port);
        }

        /// <summary>EVTCHNOP_send: raises the other end of an interdomain port, or an IPI port itself. -EINVAL for a closed or foreign-kind port.</summary>
        public long Send(ushort domain, int port)
        {
            if (!IsPort(domain, port)) return Errno.EINVAL;
            Port p = Read(domain, port);
            switch (p.State)
            {
                case PortState.Interdomain:
                    SetPending(p.RemoteDomain, p.RemotePort);
                    return 0;
                case PortState.Ipi:
                    SetPending(domain, port);
                    return 0;
                case PortState.Unbound:
                    // Xen: nothing to send to yet, and not an error.
                    return 0;
                default:
                    return Errno.EINVAL;
            }
        }

        /// <summary>Raises the port bound to virq, if the domain bound one (a VIRQ nobody bound is dropped, as on Xen).</summary>
        public void RaiseVirq(ushort domain, int virq)
        {
            int port = Exists(domain) ? VirqPort(domain, virq) : 0;
            if (port != 0) SetPending(domain, port);
        }

        /// <summary>EVTCHNOP_close: the port becomes closed; an interdomain peer's end becomes unbound, offered back to this domain.</summary>
        public long Close(ushort domain, int port)
        {
            if (!IsPort(domain, port)) return Errno.EINVAL;
            if (Read(domain, port).State == PortState.Closed) return 0;
            ref Port p = ref Slot(domain, port);
            if (p.State == PortState.Interdomain && IsPort(p.RemoteDomain, p.RemotePort))
            {
                ref Port other = ref Slot(p.RemoteDomain, p.RemotePort);
                other.State = PortState.Unbound;
                other.RemoteDomain = domain;
                other.RemotePort = 0;
            }
            p = default;
            return 0;
        }

        /// <summary>EVTCHNOP_unmask: clears the mask bit and, if the port is pending, delivers it as a send would.</summary>
        public long Unmask(ushort domain, int port)
        {
            if (!IsPort(domain, port)) return Errno.EINVAL;
            Span<byte> shared = _delivery.SharedInfo(domain);
            ClearBit(shared, MaskOffset, port);
            if (TestBit(shared, PendingOffset, port)) FlagWord(domain, shared, port);
            return 0;
        }

        /// <summary>Whether the port's pending bit is set (SCHEDOP_poll's test).</summary>
        public bool IsPending(ushort domain, int port) => IsPort(domain, port) && TestBit(_delivery.SharedInfo(domain), PendingOffset, port);

        private void SetPending(ushort domain, int port)
        {
            if (!IsPort(domain, port)) return;
            Span<byte> shared = _delivery.SharedInfo(domain);
            if (TestAndSetBit(shared, PendingOffset, port)) return;
            if (!TestBit(shared, MaskOffset, port)) FlagWord(domain, shared, port);
            _delivery.Raised(domain, port);
        }

        /// <summary>Sets the port's word in vCPU 0's selector and then its upcall_pending; kicks it if the word was not flagged already.</summary>
        private void FlagWord(ushort domain, Span<byte> shared, int port)
        {
            int word = port / 64;
            ulong selector = BinaryPrimitives.ReadUInt64LittleEndian(shared.Slice(SelectorOffset));
            if ((selector & (1UL << word)) != 0) return;
            BinaryPrimitives.WriteUInt64LittleEndian(shared.Slice(SelectorOffset), selector | (1UL << word));
            System.Threading.Interlocked.MemoryBarrier();
            shared[0] = 1;
            _delivery.Kick(domain, 0);
        }

        private int VirqPort(ushort domain, int virq)
        {
            for (int p = 1; p < PortsPerDomain; p++)
            {
                Port port = Read(domain, p);
                if (port.State == PortState.Virq && port.Virq == virq) return p;
            }
            return 0;
        }

        /// <summary>The lowest closed port (a bucket never used counts as all closed); 0 when every port is in use.</summary>
        private int FreePort(ushort domain)
        {
            for (int p = 1; p < PortsPerDomain; p++) if (Read(domain, p).State == PortState.Closed) return p;
            return 0;
        }

        private Port Read(ushort domain, int port)
        {
            Port[] bucket = _ports[domain][port / BucketPorts];
            return bucket == null ? default : bucket[port % BucketPorts];
        }

        private ref Port Slot(ushort domain, int port)
        {
            ref Port[] bucket = ref _ports[domain][port / BucketPorts];
            bucket ??= new Port[BucketPorts];
            return ref bucket[port % BucketPorts];
        }

        private bool Exists(ushort domain) => domain < _ports.Length && _ports[domain] != null;

        private bool IsPort(ushort domain, int port) => Exists(domain) && port > 0 && port < PortsPerDomain;

        private static bool TestBit(Span<byte> shared, int offset, int bit) => (shared[offset + bit / 8] & (1 << (bit % 8))) != 0;

        private static bool TestAndSetBit(Span<byte> shared, int offset, int bit)
        {
            bool was = TestBit(shared, offset, bit);
            shared[offset + bit / 8] |= (byte)(1 << (bit % 8));
            return was;
        }

        private static void ClearBit(Span<byte> shared, int offset, int bit) => shared[offset + bit / 8] &= (byte)~(1 << (bit % 8));
    }
}

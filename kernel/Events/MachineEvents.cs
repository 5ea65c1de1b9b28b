using System;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Kernel.Scheduling;

namespace Keel.Kernel.Events
{
    /// <summary>
    /// The machine's event channels over the domains' real shared_info pages. A vCPU waiting in
    /// SCHEDOP_block wakes when an event becomes deliverable to it; one waiting in SCHEDOP_poll wakes when
    /// one of the ports it listed becomes pending. Delivering an upcall to a running guest's event callback
    /// comes next; until then guests find their events by polling, blocking and reading the bitmaps.
    /// </summary>
    internal static class MachineEvents
    {
        /// <summary>VIRQ_TIMER, VIRQ_CONSOLE and VIRQ_DOM_EXC (xen/include/public/xen.h).</summary>
        internal const int VirqTimer = 0, VirqConsole = 2, VirqDomainException = 3;

        internal static EventChannels<KernelDelivery> Channels { get; private set; }

        internal static void Initialise(int domains) => Channels = new EventChannels<KernelDelivery>(domains, default);

        internal struct KernelDelivery : IEventDelivery
        {
            public unsafe Span<byte> SharedInfo(ushort domain) => new Span<byte>(DirectMap.Pointer(DomainTable.Find(domain).SharedInfoMachine), 4096);

            public void Kick(ushort domain, int vcpu)
            {
                Vcpu v = DomainTable.Find(domain).Vcpu;
                if (v.Blocked && v.PollCount == 0 && !v.EventsMasked) Scheduler.Wake(v);
            }

            public void Raised(ushort domain, int port)
            {
                Vcpu v = DomainTable.Find(domain).Vcpu;
                if (!v.Blocked) return;
                for (int i = 0; i < v.PollCount; i++)
                {
                    if (v.PollPorts[i] != port) continue;
                    v.PollCount = 0;
                    Scheduler.Wake(v);
                    return;
                }
            }
        }
    }
}

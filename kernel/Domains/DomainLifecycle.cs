using Keel.Kernel.Arch.X64;
using Keel.Kernel.Diagnostics;
using Keel.Kernel.Hypercalls;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Kernel.Scheduling;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Domains
{
    /// <summary>
    /// How domains start and end. An ended domain (shut down or crashed) stops running at once, gives back
    /// every frame, and stays in the domain table with its reason so the control domain can read it.
    /// </summary>
    internal static unsafe class DomainLifecycle
    {
        internal static FrameAllocator Frames;

        /// <summary>Runs a built domain; false if the scheduler refuses its weight or warp.</summary>
        internal static bool Start(Domain domain)
        {
            if (!Scheduler.Register(domain)) return false;
            domain.State = DomainState.Running;
            Scheduler.Unpause(domain);
            return true;
        }

        /// <summary>
        /// One line per domain built: its size and what building it cost the kernel's own heap (the Domain and
        /// Vcpu objects, its p2m copy, its virtual IDT: the paper's "kernel memory per domain"; its page
        /// tables and shared_info are frames of the domain's own allocation).
        /// </summary>
        internal static void ReportBuilt(Domain domain, uint mib, ulong heapBytes, ulong buildNs)
        {
            WriteDomain(domain);
            Console.Write(" built: ");
            Console.Decimal(mib);
            Console.Write(" MiB, ");
            Console.Decimal(heapBytes);
            Console.Write(" bytes of kernel heap, in ");
            Console.Decimal(buildNs / 1000);
            Console.Write(" us; ");
            Console.Decimal(Frames.FreeFrames);
            Console.WriteLine(" frames free");
        }

        /// <summary>Ends a domain at the control domain's request (XEN_DOMCTL_destroydomain).</summary>
        internal static void Destroy(Domain domain)
        {
            domain.Reason = ShutdownReason.Poweroff;
            End(domain, DomainState.Destroyed);
            WriteDomain(domain);
            Console.WriteLine(" destroyed by the control domain");
            ReportEnd(domain);
        }

        internal static void Shutdown(Domain domain, ShutdownReason reason)
        {
            domain.Reason = reason;
            End(domain, DomainState.Shutdown);
            WriteDomain(domain);
            Console.Write(" shut down: ");
            Console.WriteLine(ShutdownReasons.Name(reason));
            ReportEnd(domain);
        }

        /// <summary>Ends a domain for an exception it cannot take; the report is printed by the caller's FaultReport.</summary>
        internal static void Crash(Domain domain, InterruptFrame* frame, string why)
        {
            FaultReport.GuestException(domain, frame, AddressSpaceSwitch.FaultAddress, why);
            domain.CrashReport = FaultReport.Summary(frame, why);
            domain.Reason = ShutdownReason.Crash;
            End(domain, DomainState.Crashed);
            ReportEnd(domain);
        }

        private static void End(Domain domain, DomainState state)
        {
            GuestConsole.Flush(domain);
            if (domain.State == DomainState.Running) Scheduler.Retire(domain.Vcpu);
            domain.State = state;
            // The domain's page tables may be the ones loaded (it ended itself): leave them before their frames
            // are freed. A domain ended by another (destroyed by the control domain) is not loaded, and the
            // caller's tables must stay.
            if (Scheduler.Current != null && Scheduler.Current.Domain == domain) Scheduler.LeaveAddressSpace();
            // Its devices are stopped before any of its frames can be freed: their DMA must not outlive it.
            Io.MachineIo.RemoveDomain(domain.Id);
            Events.MachineEvents.Channels.RemoveDomain(domain.Id);
            uint held = DomainBuilder.Reclaim(domain);
            if (held != 0)
            {
                Console.Write("keel: ");
                Console.Decimal(held);
                Console.WriteLine(" of its frames are still referenced and stay allocated until released");
            }
        }

        private static void ReportEnd(Domain domain)
        {
            Console.Write("keel: ");
            Console.Decimal(Frames.FreeFrames);
            Console.Write(" frames free; ");
            Console.Decimal((ulong)DomainTable.AliveCount);
            Console.WriteLine(" domains running");
            if (domain.Privileged) Kernel.InitialDomainEnded(domain.Reason);
            // The control domain hears of every other domain's end through VIRQ_DOM_EXC, as on Xen.
            Events.MachineEvents.Channels.RaiseVirq(0, Events.MachineEvents.VirqDomainException);
            if (DomainTable.AliveCount == 0) Kernel.AllDomainsEnded();
        }

        /// <summary>"keel: domain ID (NAME)", the start of every line the kernel prints about one domain.</summary>
        internal static void WriteDomain(Domain domain)
        {
            Console.Write("keel: domain ");
            Console.Decimal(domain.Id);
            Console.Write(" (");
            Console.Write(domain.Name);
            Console.Write(')');
        }
    }
}

using Keel.Kernel.Hypercalls;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Objects
{
    internal enum DomainState
    {
        /// <summary>Being built or built: its frames are given, it has not run yet.</summary>
        Built,
        Running,
        /// <summary>Asked to stop through sched_op shutdown; Reason says why.</summary>
        Shutdown,
        /// <summary>Ended by the kernel for a fault it could not deliver; CrashReport says what.</summary>
        Crashed,
        /// <summary>Ended by the control domain (XEN_DOMCTL_destroydomain).</summary>
        Destroyed,
    }

    /// <summary>
    /// A domain: an isolated guest with its own pseudo-physical memory (the p2m maps its page frame numbers to
    /// the machine frames it owns), one vCPU, its shared_info page and its start_info facts.
    /// </summary>
    internal sealed class Domain
    {
        internal readonly ushort Id;
        internal readonly string Name;

        /// <summary>The control domain may use the privileged hypercalls (domctl); nobody else may.</summary>
        internal readonly bool Privileged;

        internal DomainState State;

        /// <summary>Stopped by the control domain (a built domain starts paused, as on Xen, until unpaused).</summary>
        internal bool Paused = true;
        internal ShutdownReason Reason;
        internal string CrashReport;

        internal readonly Vcpu Vcpu;

        /// <summary>BVT weight (share of the CPU) and warp (ns of running it may borrow), from whoever built it.</summary>
        internal uint Weight = 256;
        internal ulong WarpNs, WarpLimitNs, UnwarpNs;

        /// <summary>
        /// The machine frame the kernel gave each pseudo-physical page, index = pfn, 0 for none: the builder
        /// fills it, decrease_reservation empties a page's slot and populate_physmap fills one, for the pfns
        /// the builder laid out (a pfn beyond them goes unrecorded). The guest keeps its own p2m (start_info's
        /// mfn_list) and is free to disagree. The kernel uses this copy only to clear the M2P entries of the
        /// domain's frames at teardown (DomainBuilder.Reclaim), and there only for frames the domain still
        /// owns, so a slot that went stale cannot touch a frame that has moved on.
        /// </summary>
        internal ulong[] PhysicalToMachine;

        /// <summary>The vm_assist types the guest enabled, one bit per VMASST_TYPE (Xen's d->vm_assist).</summary>
        internal ulong VmAssist;

        /// <summary>Machine address of the domain's shared_info page (one of its frames, which the kernel holds a
        /// reference on while the domain lives); 0 once the domain is reclaimed.</summary>
        internal ulong SharedInfoMachine;

        /// <summary>The domain's ends of its console and store channels (start_info's evtchn fields), offered to
        /// the control domain when it was built; 0 for the control domain, which serves both itself.</summary>
        internal int ConsolePort, StorePort;

        /// <summary>The machine frames of its console and store pages (start_info's console.domU.mfn and store_mfn).</summary>
        internal ulong ConsoleFrame, StoreFrame;

        /// <summary>Console output held back until its line ends (GuestConsole).</summary>
        internal readonly byte[] ConsoleLine = new byte[256];
        internal int ConsoleLineLength;

        internal Domain(ushort id, string name, bool privileged)
        {
            Id = id;
            Name = name;
            Privileged = privileged;
            State = DomainState.Built;
            Vcpu = new Vcpu(this, 0);
        }

        internal bool IsAlive => State == DomainState.Built || State == DomainState.Running;
    }
}

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

        /// <summary>Machine frame of each pseudo-physical page, index = pfn (Xen's p2m).</summary>
        internal ulong[] PhysicalToMachine;

        /// <summary>Machine address of the domain's shared_info page (Xen-owned, shared with the guest).</summary>
        internal ulong SharedInfoMachine;

        /// <summary>Console output held back until its line ends (GuestConsole).</summary>
        internal readonly byte[] ConsoleLine = new byte[160];
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

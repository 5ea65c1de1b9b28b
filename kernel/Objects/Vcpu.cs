using Keel.Kernel.Arch.X64;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Objects
{
    /// <summary>
    /// A virtual CPU: its saved machine state while it does not run, the page tables it runs on and whether
    /// the scheduler may run it.
    /// </summary>
    /// <summary>RUNSTATE_* (xen/include/public/vcpu.h).</summary>
    internal enum RunState { Running = 0, Runnable = 1, Blocked = 2, Offline = 3 }

    internal sealed unsafe class Vcpu
    {
        internal readonly Domain Domain;
        internal readonly int Index;

        /// <summary>Registers and FPU state while not running (the live copy is on the kernel stack while it runs).</summary>
        internal GuestContext Context;

        /// <summary>The L4s (by MFN) for guest kernel and guest user mode (Xen's guest_table and guest_table_user).</summary>
        internal Paging.VcpuTables Tables;

        /// <summary>Guest user mode (a guest's applications) rather than guest kernel mode; both run in ring 3.</summary>
        internal bool InUserMode;

        /// <summary>The table the vCPU runs on now, which guest pointers are translated through.</summary>
        internal ulong CurrentTable => (InUserMode && Tables.UserL4 != 0 ? Tables.UserL4 : Tables.KernelL4) * 4096;

        /// <summary>The guest's virtual IDT, callbacks and kernel stack.</summary>
        internal readonly Traps.VirtualTraps Traps = new Traps.VirtualTraps();

        /// <summary>FS and GS, selectors and bases, as the vCPU last had them; the live ones are the processor's while it runs (Traps.SegmentBases).</summary>
        internal Traps.SegmentState Segments;

        /// <summary>
        /// The guest's virtual CR0.TS (Xen's arch.pv.ctrlreg[0] & X86_CR0_TS), set and cleared with
        /// fpu_taskswitch and cleared when #NM is delivered; the real TS is set only while the guest runs.
        /// </summary>
        internal bool TaskSwitched;

        /// <summary>True when the scheduler may pick it: not blocked, its domain neither paused nor dead.</summary>
        internal bool Runnable;

        /// <summary>The guest waits in SCHEDOP_block or poll (apart from its domain being paused).</summary>
        internal bool Blocked;

        /// <summary>System time (ns) at which the guest's timer fires (set_timer_op, VCPUOP_set_singleshot_timer); 0 for none.</summary>
        internal ulong TimerDeadline;

        /// <summary>System time at which a SCHEDOP_poll gives up; 0 for none.</summary>
        internal ulong PollDeadline;

        /// <summary>The ports a SCHEDOP_poll waits on (PollCount of them; 0 when not polling ports).</summary>
        internal readonly int[] PollPorts = new int[128];
        internal int PollCount;

        /// <summary>Where the vCPU's time goes (Xen's vcpu_runstate_info): the state, since when, and the total per state.</summary>
        internal RunState State = RunState.Offline;
        internal ulong StateEntryTime;
        internal readonly ulong[] StateTime = new ulong[4];

        /// <summary>This vCPU's vcpu_info in its domain's shared_info page, through the direct map.</summary>
        internal byte* Info => Memory.DirectMap.Pointer(Domain.SharedInfoMachine) + Index * SharedInfoLayout.VcpuInfoBytes;

        /// <summary>evtchn_upcall_mask: the guest's virtual interrupt flag, inverted (1 = events masked).</summary>
        internal bool EventsMasked
        {
            get => Info[SharedInfoLayout.UpcallMask] != 0;
            set => Info[SharedInfoLayout.UpcallMask] = value ? (byte)1 : (byte)0;
        }

        /// <summary>Moves the vCPU to a new run state at system time now, crediting the time spent in the old one.</summary>
        internal void Enter(RunState state, ulong now)
        {
            if (StateEntryTime != 0) StateTime[(int)State] += now - StateEntryTime;
            State = state;
            StateEntryTime = now;
        }

        internal Vcpu(Domain domain, int index)
        {
            Domain = domain;
            Index = index;
        }
    }
}

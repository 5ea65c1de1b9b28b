using Keel.Kernel.Arch.X64;
using Keel.Kernel.Objects;
using Keel.Kernel.Time;

namespace Keel.Kernel.Scheduling
{
    /// <summary>
    /// Runs vCPUs on the one physical CPU with Borrowed Virtual Time (Bvt) and a one-shot local APIC timer.
    ///
    /// The kernel has one stack: whatever ran (a guest or the idle loop) left its frame at the stack's top
    /// when it entered the kernel, and leaving the kernel resumes that frame. A switch therefore saves the
    /// live frame into the running vCPU and puts the next one's in its place, then loads the next vCPU's page
    /// tables (Xen keeps guest registers at the top of the per-CPU stack the same way).
    ///
    /// Decisions are made only on the way out of the kernel (BeforeLeavingKernel): when something asked for
    /// one (a block, a yield, a wake-up that must preempt), when the running vCPU's slice is over, or when a
    /// guest timer is due. The APIC is then armed for the earliest of the slice's end, the time by which a
    /// woken vCPU must be reconsidered, and the earliest guest timer; with nothing to wait for it is left
    /// disarmed and the CPU halts in the idle loop until a device interrupt.
    /// </summary>
    internal static unsafe class Scheduler
    {
        // Xen's BVT defaults: a 100 µs minimum charging unit and a 5 ms context-switch allowance.
        private const ulong McuNs = 100_000, AllowanceNs = 5_000_000;
        private const ulong Never = ulong.MaxValue;

        private static Bvt s_bvt;
        private static Vcpu s_current;
        private static GuestContext s_idle;
        private static ulong s_kernelTable;
        private static bool s_reschedule;
        private static ulong s_sliceEnd = Never, s_repickBy = Never, s_armedFor = Never;

        internal static Vcpu Current => s_current;

        internal static void Initialise(ulong kernelStackTop, ulong kernelTable)
        {
            s_bvt = new Bvt(DomainTable.Capacity, McuNs, AllowanceNs);
            s_kernelTable = kernelTable;
            fixed (GuestContext* idle = &s_idle) GuestContext.InitialiseForIdle(idle, kernelStackTop);
            Timer.ArmOneShot(0);
        }

        /// <summary>
        /// Hands the CPU to the scheduler: the kernel only decides on its way out of an entry, so the first
        /// decision needs one; the timer is armed to fire at once, into the idle loop the caller enters next.
        /// </summary>
        internal static void Start()
        {
            s_reschedule = true;
            s_armedFor = 0;
            Timer.ArmOneShot(1);
        }

        /// <summary>Makes the domain's vCPU known to BVT with its weight and warp; false if BVT refuses them.</summary>
        internal static bool Register(Domain domain)
        {
            if (s_bvt.Add(domain.Id, domain.Weight) != BvtStatus.Ok) return false;
            if (domain.WarpNs != 0 && s_bvt.SetWarp(domain.Id, domain.WarpNs, domain.WarpLimitNs, domain.UnwarpNs) != BvtStatus.Ok)
            {
                s_bvt.Remove(domain.Id);
                return false;
            }
            domain.Vcpu.Enter(RunState.Blocked, SystemClock.Now);
            return true;
        }

        /// <summary>The vCPU can never run again (its domain ended).</summary>
        internal static void Retire(Vcpu vcpu)
        {
            ulong now = SystemClock.Now;
            if (vcpu.Runnable) s_bvt.Block(vcpu.Domain.Id, now);
            s_bvt.Remove(vcpu.Domain.Id);
            vcpu.Runnable = false;
            vcpu.TimerDeadline = vcpu.PollDeadline = 0;
            vcpu.Enter(RunState.Offline, now);
            s_reschedule = true;
        }

        /// <summary>SCHEDOP_yield: another runnable vCPU, if there is one, gets the CPU when the kernel leaves.</summary>
        internal static void Yield(Vcpu vcpu)
        {
            s_bvt.Yield(vcpu.Domain.Id);
            s_reschedule = true;
        }

        /// <summary>The vCPU has something to do (a timer, an event): it runs again unless its domain is paused.</summary>
        internal static void Wake(Vcpu vcpu)
        {
            vcpu.Blocked = false;
            vcpu.PollDeadline = 0;
            vcpu.PollCount = 0;
            Admit(vcpu);
        }

        /// <summary>The guest waits (SCHEDOP_block or poll) until Wake.</summary>
        internal static void Block(Vcpu vcpu)
        {
            vcpu.Blocked = true;
            Withdraw(vcpu);
        }

        /// <summary>The control domain stops the domain (XEN_DOMCTL_pausedomain) until Unpause; its own blocking is kept apart.</summary>
        internal static void Pause(Domain domain)
        {
            domain.Paused = true;
            Withdraw(domain.Vcpu);
        }

        internal static void Unpause(Domain domain)
        {
            domain.Paused = false;
            Admit(domain.Vcpu);
        }

        /// <summary>Makes the vCPU runnable if nothing holds it: not blocked, its domain alive and not paused.</summary>
        private static void Admit(Vcpu vcpu)
        {
            if (vcpu.Runnable || vcpu.Blocked || vcpu.Domain.Paused || !vcpu.Domain.IsAlive || vcpu.State == RunState.Offline) return;
            ulong now = SystemClock.Now;
            vcpu.Runnable = true;
            vcpu.Enter(RunState.Runnable, now);
            s_bvt.Wake(vcpu.Domain.Id, now, out ulong repickBy);
            if (repickBy <= now) s_reschedule = true;
            else if (repickBy < s_repickBy) s_repickBy = repickBy;
        }

        private static void Withdraw(Vcpu vcpu)
        {
            if (!vcpu.Runnable) return;
            ulong now = SystemClock.Now;
            vcpu.Runnable = false;
            s_bvt.Block(vcpu.Domain.Id, now);
            vcpu.Enter(RunState.Blocked, now);
            s_reschedule = true;
        }

        /// <summary>The last step of every kernel entry: a new pick if one is due, then the timer armed for the next event.</summary>
        internal static void BeforeLeavingKernel(InterruptFrame* live)
        {
            ulong now = SystemClock.Now;
            GuestTimers.Expire(now);
            do
            {
                if (s_reschedule || now >= s_sliceEnd || now >= s_repickBy || (s_current != null && !s_current.Runnable))
                {
                    s_reschedule = false;
                    s_repickBy = Never;
                    BvtDecision decision = s_bvt.PickNext(now);
                    Vcpu next = decision.IsIdle ? null : DomainTable.Find((ulong)decision.Id).Vcpu;
                    s_sliceEnd = decision.IsIdle ? Never : now + decision.SliceNs;
                    SwitchTo(next, live, now);
                }
            }
            while (s_current != null && !Traps.EventUpcall.DeliverPending(s_current, live));
            Arm(now);
        }

        private static void Arm(ulong now)
        {
            ulong next = s_sliceEnd;
            if (s_repickBy < next) next = s_repickBy;
            if (GuestTimers.Earliest < next) next = GuestTimers.Earliest;
            // Moved only earlier: each move writes the local APIC's initial count (under an emulator, a trip to
            // its device model every time), and a guest's set_timer_op or a new slice moves it at almost every
            // entry. A timer armed earlier than needed fires early, and that entry re-arms it for the next event.
            if (next == s_armedFor || (next > s_armedFor && s_armedFor > now)) return;
            s_armedFor = next;
            Timer.ArmOneShot(next == Never ? 0 : next > now ? next - now : 1);
        }

        /// <summary>The armed time has passed (the timer interrupt): the next exit re-arms.</summary>
        internal static void TimerFired() => s_armedFor = Never;

        private static void SwitchTo(Vcpu next, InterruptFrame* live, ulong now)
        {
            if (next == s_current) return;
            if (s_current != null && s_current.Domain.IsAlive)
            {
                fixed (GuestContext* saved = &s_current.Context) GuestContext.Save(live, saved);
                if (s_current.State == RunState.Running) s_current.Enter(s_current.Runnable ? RunState.Runnable : RunState.Blocked, now);
            }
            if (next == null)
            {
                // Lazily, as Xen switches to its idle vCPU: the tables of the domain that ran stay loaded (their
                // kernel half is the kernel's own, in every domain's tables alike), so waking that domain again,
                // the common case for a driver domain waiting on its device, writes no CR3, which would flush
                // every TLB entry. Only a domain that ran can be loaded so, and it cannot end while idle runs:
                // a domain ends in a hypercall or a fault of a running one, and one that ends itself has left
                // its tables already (LeaveAddressSpace).
                if (s_current == null || !s_current.Domain.IsAlive) AddressSpaceSwitch.Load(s_kernelTable);
                fixed (GuestContext* idle = &s_idle) GuestContext.Restore(idle, live);
            }
            else
            {
                AddressSpaceSwitch.Load(next.CurrentTable);
                fixed (GuestContext* saved = &next.Context) GuestContext.Restore(saved, live);
                next.Enter(RunState.Running, now);
                GuestClock.Publish(next);
            }
            s_current = next;
        }

        /// <summary>Leaves the current domain's page tables before its frames are freed.</summary>
        internal static void LeaveAddressSpace() => AddressSpaceSwitch.Load(s_kernelTable);
    }
}

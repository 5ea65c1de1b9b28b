using Keel.Kernel.Objects;
using Keel.Kernel.Scheduling;

namespace Keel.Kernel.Time
{
    /// <summary>
    /// Each vCPU's two deadlines, in system time: its timer (set_timer_op, VCPUOP_set_singleshot_timer) and
    /// the timeout of a SCHEDOP_poll. A timer that fires raises VIRQ_TIMER (a poll on its port ends) and
    /// wakes a vCPU waiting in SCHEDOP_block even if it bound no VIRQ_TIMER (Keel delivers no upcalls yet,
    /// so a blocked guest could otherwise never wake); a poll timeout ends the poll. The earliest deadline is kept so the scheduler can arm the APIC without scanning.
    /// </summary>
    internal static class GuestTimers
    {
        private const ulong Never = ulong.MaxValue;

        /// <summary>The earliest deadline of any vCPU, or Never.</summary>
        internal static ulong Earliest { get; private set; } = Never;

        internal static void SetTimer(Vcpu vcpu, ulong deadline)
        {
            vcpu.TimerDeadline = deadline;
            if (deadline != 0 && deadline < Earliest) Earliest = deadline;
        }

        internal static void SetPoll(Vcpu vcpu, ulong deadline)
        {
            vcpu.PollDeadline = deadline;
            if (deadline != 0 && deadline < Earliest) Earliest = deadline;
        }

        /// <summary>Handles every deadline at or before now and finds the next earliest.</summary>
        internal static void Expire(ulong now)
        {
            if (now < Earliest) return;
            ulong earliest = Never;
            for (int id = 0; id < DomainTable.Count; id++)
            {
                Vcpu vcpu = DomainTable.Find((ulong)id).Vcpu;
                if (vcpu.TimerDeadline != 0 && vcpu.TimerDeadline <= now)
                {
                    vcpu.TimerDeadline = 0;
                    Events.MachineEvents.Channels.RaiseVirq(vcpu.Domain.Id, Events.MachineEvents.VirqTimer);
                    if (vcpu.PollCount == 0) Scheduler.Wake(vcpu);
                }
                if (vcpu.PollDeadline != 0 && vcpu.PollDeadline <= now)
                {
                    vcpu.PollDeadline = 0;
                    Scheduler.Wake(vcpu);
                }
                if (vcpu.TimerDeadline != 0 && vcpu.TimerDeadline < earliest) earliest = vcpu.TimerDeadline;
                if (vcpu.PollDeadline != 0 && vcpu.PollDeadline < earliest) earliest = vcpu.PollDeadline;
            }
            Earliest = earliest;
        }
    }
}

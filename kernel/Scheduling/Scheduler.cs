using Keel.Kernel.Arch.X64;
using Keel.Kernel.Objects;

namespace Keel.Kernel.Scheduling
{
    /// <summary>
    /// Runs vCPUs on the one physical CPU. The kernel has one stack: whatever ran (a guest or the idle loop)
    /// left its frame at the stack's top when it entered the kernel, and leaving the kernel resumes that
    /// frame. A switch therefore saves the live frame into the running vCPU and puts the next one's in its
    /// place, then loads the next vCPU's page tables (Xen keeps guest registers at the top of the per-CPU
    /// stack the same way). Picking the next vCPU is round robin among runnable ones.
    /// </summary>
    internal static unsafe class Scheduler
    {
        private static Vcpu s_current;
        private static GuestContext s_idle;
        private static ulong s_kernelTable;
        private static int s_cursor;

        internal static Vcpu Current => s_current;

        internal static void Initialise(ulong kernelStackTop, ulong kernelTable)
        {
            s_kernelTable = kernelTable;
            fixed (GuestContext* idle = &s_idle) GuestContext.InitialiseForIdle(idle, kernelStackTop);
        }

        private static bool s_reschedule;

        /// <summary>Asks for a new pick when the kernel is about to leave (the timer, a yield, a vCPU that stopped).</summary>
        internal static void RequestReschedule() => s_reschedule = true;

        /// <summary>
        /// The last step of every kernel entry: if a pick was asked for, or the running vCPU can no longer run,
        /// switches the live frame to the next runnable vCPU after the current one, or to idle.
        /// </summary>
        internal static void BeforeLeavingKernel(InterruptFrame* live)
        {
            if (!s_reschedule && (s_current == null || s_current.Runnable)) return;
            s_reschedule = false;
            SwitchTo(PickAfter(s_cursor), live);
        }

        private static Vcpu PickAfter(int cursor)
        {
            int count = DomainTable.Count;
            for (int step = 1; step <= count; step++)
            {
                int index = (cursor + step) % count;
                Domain domain = DomainTable.Find((ulong)index);
                if (domain != null && domain.Vcpu.Runnable)
                {
                    s_cursor = index;
                    return domain.Vcpu;
                }
            }
            return null;
        }

        private static void SwitchTo(Vcpu next, InterruptFrame* live)
        {
            if (next == s_current) return;
            if (s_current != null && s_current.Domain.IsAlive)
            {
                fixed (GuestContext* saved = &s_current.Context) GuestContext.Save(live, saved);
            }
            if (next == null)
            {
                AddressSpaceSwitch.Load(s_kernelTable);
                fixed (GuestContext* idle = &s_idle) GuestContext.Restore(idle, live);
            }
            else
            {
                AddressSpaceSwitch.Load(next.CurrentTable);
                fixed (GuestContext* saved = &next.Context) GuestContext.Restore(saved, live);
            }
            s_current = next;
        }

        /// <summary>Leaves the current domain's page tables before its frames are freed.</summary>
        internal static void LeaveAddressSpace() => AddressSpaceSwitch.Load(s_kernelTable);
    }
}

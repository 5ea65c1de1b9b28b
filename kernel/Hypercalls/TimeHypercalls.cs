using System;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Kernel.Scheduling;
using Keel.Kernel.Time;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// set_timer_op (15) and the time parts of vcpu_op (24) (xen/include/public/vcpu.h): a one-shot timer in
    /// system time, and the run-state record that is the paper's virtual time (time[RUNSTATE_running]
    /// advances only while the vCPU runs).
    /// </summary>
    internal static unsafe class TimeHypercalls
    {
        private const ulong IsUp = 3, GetRunstateInfo = 4, SetSingleshotTimer = 6, StopSingleshotTimer = 7;
        private const uint SingleshotFuture = 1;
        private const long ETIME = -62;

        /// <summary>set_timer_op(deadline): 0 cancels; a deadline already past fires at once (Xen does the same).</summary>
        internal static long SetTimerOp(Vcpu vcpu, ulong deadline)
        {
            GuestTimers.SetTimer(vcpu, deadline);
            return 0;
        }

        /// <summary>struct vcpu_runstate_info: int state; u64 state_entry_time; u64 time[4].</summary>
        private struct RunstateInfo
        {
            internal int State;
            internal uint Padding;
            internal ulong StateEntryTime;
            internal ulong Running, Runnable, Blocked, Offline;
        }

        /// <summary>struct vcpu_set_singleshot_timer: u64 timeout_abs_ns; u32 flags.</summary>
        private struct SingleshotTimer
        {
            internal ulong Deadline;
            internal uint Flags;
            internal uint Padding;
        }

        /// <summary>vcpu_op(cmd, vcpuid, arg): every domain has one vCPU, 0; others are -ENOENT, as beyond Xen's max_vcpus.</summary>
        internal static long VcpuOp(Vcpu vcpu, in HypercallArguments call)
        {
            if (call.A2 != 0) return Errno.ENOENT;
            switch (call.A1)
            {
                case IsUp:
                    return 1;
                case GetRunstateInfo:
                    return WriteRunstate(vcpu, call.A3);
                case SetSingleshotTimer:
                    if (!GuestMemory.TryRead(vcpu, call.A3, out SingleshotTimer timer)) return Errno.EFAULT;
                    if ((timer.Flags & ~SingleshotFuture) != 0) return Errno.EINVAL;
                    if ((timer.Flags & SingleshotFuture) != 0 && timer.Deadline < SystemClock.Now) return ETIME;
                    GuestTimers.SetTimer(vcpu, timer.Deadline == 0 ? 1 : timer.Deadline);
                    return 0;
                case StopSingleshotTimer:
                    GuestTimers.SetTimer(vcpu, 0);
                    return 0;
                default:
                    return Errno.ENOSYS;
            }
        }

        private static long WriteRunstate(Vcpu vcpu, ulong address)
        {
            ulong now = SystemClock.Now;
            RunstateInfo info = default;
            info.State = (int)vcpu.State;
            info.StateEntryTime = vcpu.StateEntryTime;
            info.Running = vcpu.StateTime[0];
            info.Runnable = vcpu.StateTime[1];
            info.Blocked = vcpu.StateTime[2];
            info.Offline = vcpu.StateTime[3];
            // The current state's time runs up to now, as Xen's vcpu_runstate_get reports it.
            if (vcpu.State == RunState.Running) info.Running += now - vcpu.StateEntryTime;
            return GuestMemory.TryWrite(vcpu, address, new ReadOnlySpan<byte>(&info, sizeof(RunstateInfo))) ? 0 : Errno.EFAULT;
        }
    }
}

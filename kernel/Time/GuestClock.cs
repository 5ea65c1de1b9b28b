using System;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Time
{
    /// <summary>
    /// The time a guest reads from shared_info without a hypercall (the paper's real time and wall-clock
    /// time): each vCPU's vcpu_time_info (a TSC reading, the system time at it, and the scale), refreshed
    /// whenever the vCPU is scheduled in, and the domain's wall clock at system time 0 (wc_sec, wc_nsec,
    /// wc_sec_hi under the wc_version seqlock).
    /// </summary>
    internal static unsafe class GuestClock
    {
        internal static void Publish(Vcpu vcpu)
        {
            ulong tsc = SystemClock.Tsc;
            ulong systemTime = SystemClock.Scale.ToNanoseconds(tsc - SystemClock.TscAtStart);
            GuestTimeInfo.Publish(new Span<byte>(vcpu.Info + SharedInfoLayout.Time, 32), tsc, systemTime, SystemClock.Scale);
        }

        internal static void PublishWallClock(Domain domain)
        {
            byte* shared = DirectMap.Pointer(domain.SharedInfoMachine);
            ref uint version = ref *(uint*)(shared + SharedInfoLayout.WallClockVersion);
            System.Threading.Volatile.Write(ref version, version | 1);
            System.Threading.Interlocked.MemoryBarrier();
            ulong seconds = SystemClock.WallClockAtStart;
            *(uint*)(shared + SharedInfoLayout.WallClockSeconds) = (uint)seconds;
            *(uint*)(shared + SharedInfoLayout.WallClockNanoseconds) = 0;
            *(uint*)(shared + SharedInfoLayout.WallClockNanoseconds + 4) = (uint)(seconds >> 32);
            System.Threading.Interlocked.MemoryBarrier();
            System.Threading.Volatile.Write(ref version, version + 1);
        }
    }
}

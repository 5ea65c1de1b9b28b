using System.Runtime;
using System.Runtime.CompilerServices;
using System.Threading;
using Keel.Ringlib.Xen;

namespace Keel.Runtime
{
    /// <summary>
    /// Time as a PV guest reads it (xen/include/public/xen.h, vcpu_time_info and the wall clock in
    /// shared_info), without a hypercall: system time is the kernel's last (TSC, ns) pair plus the TSC ticks
    /// since, scaled as the kernel says; both records are read under their version seqlocks. Needs
    /// SharedInfo.Map() first.
    /// </summary>
    public static unsafe class Clock
    {
        [RuntimeImport("keel_rdtsc"), MethodImpl(MethodImplOptions.InternalCall)]
        private static extern ulong ReadTsc();

        /// <summary>The TSC: cycles, for measurements.</summary>
        public static ulong Cycles() => ReadTsc();

        /// <summary>Nanoseconds of system time (since the kernel started its clock).</summary>
        public static ulong Now
        {
            get
            {
                byte* time = SharedInfo.Page + SharedInfoLayout.Time;
                while (true)
                {
                    uint version = Volatile.Read(ref *(uint*)time);
                    Interlocked.MemoryBarrier();
                    ulong stamp = *(ulong*)(time + 8), system = *(ulong*)(time + 16);
                    uint multiplier = *(uint*)(time + 24);
                    sbyte shift = *(sbyte*)(time + 28);
                    ulong tsc = ReadTsc();
                    Interlocked.MemoryBarrier();
                    if ((version & 1) != 0 || Volatile.Read(ref *(uint*)time) != version) continue;
                    ulong delta = tsc - stamp;
                    delta = shift >= 0 ? delta << shift : delta >> -shift;
                    ulong high = System.Math.BigMul(delta, multiplier, out ulong low);
                    return system + ((high << 32) | (low >> 32));
                }
            }
        }

        /// <summary>Seconds since 1970 (UTC) at system time 0, from shared_info's wall clock.</summary>
        public static ulong WallClockAtBoot
        {
            get
            {
                byte* shared = SharedInfo.Page;
                while (true)
                {
                    uint version = Volatile.Read(ref *(uint*)(shared + SharedInfoLayout.WallClockVersion));
                    Interlocked.MemoryBarrier();
                    ulong seconds = *(uint*)(shared + SharedInfoLayout.WallClockSeconds) | ((ulong)*(uint*)(shared + SharedInfoLayout.WallClockNanoseconds + 4) << 32);
                    Interlocked.MemoryBarrier();
                    if ((version & 1) == 0 && Volatile.Read(ref *(uint*)(shared + SharedInfoLayout.WallClockVersion)) == version) return seconds;
                }
            }
        }

        /// <summary>SCHEDOP_poll with no ports: sleeps until system time deadline.</summary>
        public static long SleepUntil(ulong deadline)
        {
            ulong* poll = stackalloc ulong[3];
            poll[0] = 0;
            poll[1] = 0;
            poll[2] = deadline;
            return Hypercall.Raw((ulong)HypercallNumber.SchedOp, (ulong)SchedCommand.Poll, (ulong)poll);
        }

        public static long SetTimer(ulong deadline) => Hypercall.Raw((ulong)HypercallNumber.SetTimerOp, deadline);

        /// <summary>time[RUNSTATE_running] of vCPU 0: ns this domain has run (its virtual time).</summary>
        public static ulong RunningTime()
        {
            ulong* info = stackalloc ulong[6];
            Hypercall.Raw((ulong)HypercallNumber.VcpuOp, 4, 0, (ulong)info);
            return info[2];
        }
    }
}

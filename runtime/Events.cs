using System.Threading;
using Keel.Ringlib.Xen;

namespace Keel.Runtime
{
    /// <summary>event_channel_op and SCHEDOP_poll on ports, with the pending and mask bitmaps read from shared_info (SharedInfo.Map first).</summary>
    public static unsafe class Events
    {
        private const ulong BindInterdomainOp = 0, BindVirqOp = 1, BindPirqOp = 2, CloseOp = 3, SendOp = 4, StatusOp = 5, AllocUnboundOp = 6, BindIpiOp = 7, UnmaskOp = 9;

        private const uint VirqTimer = 0;
        private static uint s_timerPort;

        private static long Op(ulong command, void* argument) => Hypercall.Raw((ulong)HypercallNumber.EventChannelOp, command, (ulong)argument);

        /// <summary>A port on success (positive), else a negative errno.</summary>
        public static long BindIpi()
        {
            uint* args = stackalloc uint[2];
            args[0] = 0;
            long rc = Op(BindIpiOp, args);
            return rc < 0 ? rc : args[1];
        }

        public static long BindVirq(uint virq)
        {
            uint* args = stackalloc uint[3];
            args[0] = virq;
            args[1] = 0;
            long rc = Op(BindVirqOp, args);
            return rc < 0 ? rc : args[2];
        }

        /// <summary>EVTCHNOP_bind_pirq: a port raised when the mapped line fires (share: BIND_PIRQ__WILL_SHARE).</summary>
        public static long BindPirq(int pirq, bool share = false)
        {
            uint* args = stackalloc uint[3];
            args[0] = (uint)pirq;
            args[1] = share ? 1u : 0u;
            long rc = Op(BindPirqOp, args);
            return rc < 0 ? rc : args[2];
        }

        /// <summary>A port of this domain that `remote` may bind to.</summary>
        public static long AllocUnbound(ushort remote)
        {
            ushort* args = stackalloc ushort[4];
            args[0] = DomainIds.Self;
            args[1] = remote;
            long rc = Op(AllocUnboundOp, args);
            return rc < 0 ? rc : *(uint*)(args + 2);
        }

        /// <summary>A local port joined to <paramref name="remotePort"/> of <paramref name="remote"/>, which must have offered it to this domain.</summary>
        public static long BindInterdomain(ushort remote, uint remotePort)
        {
            uint* args = stackalloc uint[3];
            *(ushort*)args = remote;
            args[1] = remotePort;
            long rc = Op(BindInterdomainOp, args);
            return rc < 0 ? rc : args[2];
        }

        /// <summary>
        /// Sleeps until an event arrives on an unmasked port or system time reaches <paramref name="deadline"/>,
        /// as a PV kernel's idle loop does: set_timer_op, then SCHEDOP_block, which returns at once if
        /// evtchn_upcall_pending is already set (so neither is made when it is set before). On return the pending flag and selector are cleared first,
        /// so anything raised after that sets them again and the next wait returns at once: the caller then
        /// looks at every port it serves (<see cref="TakePending"/>), and nothing is missed.
        /// </summary>
        public static void WaitUntil(ulong deadline)
        {
            // VIRQ_TIMER bound and unmasked, as a PV kernel keeps it: a deadline that passes before the block
            // (or one already past) then leaves the port pending and upcall_pending set, and the block returns
            // at once instead of sleeping with no timer left to end it.
            if (s_timerPort == 0)
            {
                long port = BindVirq(VirqTimer);
                if (port > 0)
                {
                    s_timerPort = (uint)port;
                    Unmask(s_timerPort);
                }
            }
            byte* info = SharedInfo.Page;
            // An event already raised would make the block return at once: the two hypercalls are not made.
            if (Volatile.Read(ref info[SharedInfoLayout.UpcallPending]) == 0)
            {
                Clock.SetTimer(deadline);
                Hypercall.Block();
            }
            if (s_timerPort != 0) TakePending(s_timerPort);
            Volatile.Write(ref info[SharedInfoLayout.UpcallPending], (byte)0);
            Interlocked.Exchange(ref *(long*)(info + SharedInfoLayout.PendingSelector), 0);
        }

        /// <summary>If the port is pending, clears it (one atomic step, so a send meanwhile is not lost) and says so.</summary>
        public static bool TakePending(uint port)
        {
            ref int word = ref *(int*)(SharedInfo.Page + SharedInfoLayout.EventPending + port / 32 * 4);
            int bit = 1 << (int)(port % 32);
            int seen = Volatile.Read(ref word);
            while ((seen & bit) != 0)
            {
                int was = Interlocked.CompareExchange(ref word, seen & ~bit, seen);
                if (was == seen) return true;
                seen = was;
            }
            return false;
        }

        public static long Send(uint port) => Op(SendOp, &port);

        public static long Close(uint port) => Op(CloseOp, &port);

        public static long Unmask(uint port) => Op(UnmaskOp, &port);

        /// <summary>EVTCHNSTAT_* of one of this domain's ports, or a negative errno.</summary>
        public static long Status(uint port)
        {
            uint* args = stackalloc uint[6];
            *(ushort*)args = DomainIds.Self;
            args[1] = port;
            long rc = Op(StatusOp, args);
            return rc < 0 ? rc : args[2];
        }

        /// <summary>Ports of the 2-level ABI: 64 words of 64 bits in shared_info's evtchn_pending (xen.h, EVTCHN_2L_NR_CHANNELS).</summary>
        public const uint PortCount = 4096;

        /// <summary>
        /// The lowest port at or above <paramref name="from"/> whose pending bit is set (not taken: TakePending
        /// does that), or 0 if there is none. A loop over the ports it serves reads the bitmap a word at a time:
        /// 64 words rather than 4096 ports.
        /// </summary>
        public static uint NextPending(uint from)
        {
            ulong* words = (ulong*)(SharedInfo.Page + SharedInfoLayout.EventPending);
            for (uint w = from / 64; w < PortCount / 64; w++)
            {
                ulong bits = Volatile.Read(ref words[w]);
                if (w == from / 64) bits &= ~0UL << (int)(from % 64);
                if (bits == 0) continue;
                uint port = w * 64;
                while ((bits & 1) == 0)
                {
                    bits >>= 1;
                    port++;
                }
                return port;
            }
            return 0;
        }

        public static bool IsPending(uint port) => (SharedInfo.Page[SharedInfoLayout.EventPending + port / 8] & (1 << (int)(port % 8))) != 0;

        public static void Mask(uint port) => SharedInfo.Page[SharedInfoLayout.EventMask + port / 8] |= (byte)(1 << (int)(port % 8));

        /// <summary>Clears a port's pending bit, as a guest does once it has handled the event.</summary>
        public static void Clear(uint port) => SharedInfo.Page[SharedInfoLayout.EventPending + port / 8] &= (byte)~(1 << (int)(port % 8));

        /// <summary>SCHEDOP_poll on the ports until one is pending or system time reaches deadline (0: no deadline).</summary>
        public static long Poll(uint* ports, uint count, ulong deadline)
        {
            ulong* poll = stackalloc ulong[3];
            poll[0] = (ulong)ports;
            poll[1] = count;
            poll[2] = deadline;
            return Hypercall.Raw((ulong)HypercallNumber.SchedOp, (ulong)SchedCommand.Poll, (ulong)poll);
        }
    }
}

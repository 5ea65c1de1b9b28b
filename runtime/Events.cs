using Keel.Ringlib.Xen;

namespace Keel.Runtime
{
    /// <summary>event_channel_op and SCHEDOP_poll on ports, with the pending and mask bitmaps read from shared_info (SharedInfo.Map first).</summary>
    public static unsafe class Events
    {
        private const ulong BindVirqOp = 1, CloseOp = 3, SendOp = 4, StatusOp = 5, AllocUnboundOp = 6, BindIpiOp = 7, UnmaskOp = 9;

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

        /// <summary>A port of this domain that `remote` may bind to.</summary>
        public static long AllocUnbound(ushort remote)
        {
            ushort* args = stackalloc ushort[4];
            args[0] = DomainIds.Self;
            args[1] = remote;
            long rc = Op(AllocUnboundOp, args);
            return rc < 0 ? rc : *(uint*)(args + 2);
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

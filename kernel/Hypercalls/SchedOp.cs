using Keel.Kernel.Domains;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Kernel.Scheduling;
using Keel.Kernel.Time;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// sched_op (29), xen/include/public/sched.h: yield gives up the CPU; block sleeps until an event is
    /// pending for the vCPU (clearing its event mask first, as Xen does, so the wake-up can be delivered);
    /// shutdown ends the domain with the reason the guest gives; poll sleeps until one of the listed event
    /// channels is pending or the timeout passes.
    /// </summary>
    internal static unsafe class SchedOp
    {
        internal static long Handle(Vcpu vcpu, in HypercallArguments call)
        {
            switch ((SchedCommand)call.A1)
            {
                case SchedCommand.Yield:
                    Scheduler.Yield(vcpu);
                    return 0;
                case SchedCommand.Block:
                    return Block(vcpu);
                case SchedCommand.Shutdown:
                    return Shutdown(vcpu, call.A2);
                case SchedCommand.Poll:
                    return Poll(vcpu, call.A2);
                default:
                    return Errno.ENOSYS;
            }
        }

        private static long Block(Vcpu vcpu)
        {
            vcpu.EventsMasked = false;
            if (vcpu.Info[SharedInfoLayout.UpcallPending] != 0) return 0;
            Scheduler.Block(vcpu);
            return 0;
        }

        /// <summary>struct sched_poll: a guest handle to the ports, their count, and an absolute timeout in ns (0: none).</summary>
        private struct SchedPoll
        {
            internal ulong Ports;
            internal uint Count;
            internal uint Padding;
            internal ulong Timeout;
        }

        /// <summary>Xen allows at most 128 ports in one poll (xen/common/sched/core.c, do_poll).</summary>
        private const uint MaxPollPorts = 128;

        /// <summary>
        /// SCHEDOP_poll: returns at once if one of the listed ports is pending (masked or not), else sleeps
        /// until one becomes pending or the timeout (absolute system time) passes. Every port must be one of
        /// the domain's open event channels (-EINVAL otherwise). No ports and no timeout would sleep forever,
        /// which Xen allows and Keel refuses (-EINVAL) rather than lose the vCPU.
        /// </summary>
        private static long Poll(Vcpu vcpu, ulong argument)
        {
            if (!GuestMemory.TryRead(vcpu, argument, out SchedPoll poll)) return Errno.EFAULT;
            if (poll.Count > MaxPollPorts) return Errno.EINVAL;
            if (poll.Count == 0 && poll.Timeout == 0) return Errno.EINVAL;
            bool pending = false;
            for (int i = 0; i < poll.Count; i++)
            {
                if (!GuestMemory.TryRead(vcpu, poll.Ports + (ulong)i * 4, out uint port)) return Errno.EFAULT;
                if (Events.MachineEvents.Channels.StateOf(vcpu.Domain.Id, (int)port) == Events.PortState.Closed) return Errno.EINVAL;
                pending |= Events.MachineEvents.Channels.IsPending(vcpu.Domain.Id, (int)port);
                vcpu.PollPorts[i] = (int)port;
            }
            if (pending || (poll.Timeout != 0 && poll.Timeout <= SystemClock.Now)) return 0;
            vcpu.PollCount = (int)poll.Count;
            if (poll.Timeout != 0) GuestTimers.SetPoll(vcpu, poll.Timeout);
            Scheduler.Block(vcpu);
            return 0;
        }

        /// <summary>struct sched_shutdown { unsigned int reason; }.</summary>
        private static long Shutdown(Vcpu vcpu, ulong argument)
        {
            if (!GuestMemory.TryRead(vcpu, argument, out uint reason)) return Errno.EFAULT;
            if (reason > (uint)ShutdownReason.Watchdog) return Errno.EINVAL;
            DomainLifecycle.Shutdown(vcpu.Domain, (ShutdownReason)reason);
            return 0;
        }
    }
}

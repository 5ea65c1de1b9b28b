using Keel.Kernel.Domains;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Kernel.Scheduling;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// sched_op (29), xen/include/public/sched.h: yield gives up the CPU; block sleeps until an event is
    /// pending for the vCPU (clearing its event mask first, as Xen does, so the wake-up can be delivered);
    /// shutdown ends the domain with the reason the guest gives. Poll needs event channels and answers
    /// -ENOSYS until they exist.
    /// </summary>
    internal static unsafe class SchedOp
    {
        internal static long Handle(Vcpu vcpu, in HypercallArguments call)
        {
            switch ((SchedCommand)call.A1)
            {
                case SchedCommand.Yield:
                    Scheduler.RequestReschedule();
                    return 0;
                case SchedCommand.Block:
                    return Block(vcpu);
                case SchedCommand.Shutdown:
                    return Shutdown(vcpu, call.A2);
                default:
                    return Errno.ENOSYS;
            }
        }

        private static long Block(Vcpu vcpu)
        {
            vcpu.EventsMasked = false;
            if (vcpu.Info[SharedInfoLayout.UpcallPending] != 0) return 0;
            vcpu.Runnable = false;
            Scheduler.RequestReschedule();
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

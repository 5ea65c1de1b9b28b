using Keel.Kernel.Domains;
using Keel.Kernel.Objects;
using Keel.Kernel.Arch.X64;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Traps
{
    /// <summary>
    /// The event upcall (Xen's check_for_events on the way back to a PV guest, arch/x86/x86_64/entry.S): when
    /// the vCPU about to run has vcpu_info.evtchn_upcall_pending set and evtchn_upcall_mask clear, it enters
    /// its event callback through a bounce frame, with the mask set for it (the callback clears pending, scans
    /// the selector and pending words, and returns by iret, which restores the mask saved in the frame). A
    /// guest that registered no event callback is left to poll, as GRUB for Xen does.
    /// </summary>
    internal static unsafe class EventUpcall
    {
        /// <summary>False when the bounce frame could not be written and the domain was crashed: the caller picks again.</summary>
        internal static bool DeliverPending(Vcpu vcpu, InterruptFrame* frame)
        {
            if (vcpu.EventsMasked || vcpu.Info[SharedInfoLayout.UpcallPending] == 0) return true;
            ulong handler = vcpu.Traps.CallbackAddress[(int)CallbackType.Event];
            if (handler == 0) return true;
            if (TrapBounce.Deliver(vcpu, frame, handler, maskEvents: true, hasErrorCode: false, 0)) return true;
            DomainLifecycle.Crash(vcpu.Domain, frame, "a fault while delivering an event upcall (the guest kernel stack is not writable)");
            return false;
        }
    }
}

using Keel.Kernel.Arch.X64;
using Keel.Kernel.Objects;
using Keel.Kernel.Traps;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// Entry for every SYSCALL from a guest. In guest kernel mode it is a hypercall with Xen's registers
    /// (number in RAX; arguments in RDI, RSI, RDX, R10, R8; result in RAX). Each family decodes its
    /// arguments (copies what they point to in once and checks it, failing with Xen's error code) and then
    /// invokes (cannot fail on guest input). An unknown number is -ENOSYS.
    /// </summary>
    internal static unsafe class HypercallDispatcher
    {
        internal static void Handle(Vcpu vcpu, InterruptFrame* frame)
        {
            if (vcpu.InUserMode)
            {
                BounceSystemCall(vcpu, frame);
                return;
            }
            var call = new HypercallArguments(frame->Rdi, frame->Rsi, frame->Rdx, frame->R10, frame->R8);
            frame->Rax = (ulong)Dispatch(vcpu, (HypercallNumber)frame->Rax, call, frame);
        }

        /// <summary>
        /// SYSCALL from guest user mode is the guest's own system call: it goes to the guest kernel's syscall
        /// callback (RCX and R11 hold the user RIP and RFLAGS, as SYSCALL left them). Without a callback the
        /// guest gets #UD, as on Xen.
        /// </summary>
        private static void BounceSystemCall(Vcpu vcpu, InterruptFrame* frame)
        {
            ulong handler = vcpu.Traps.CallbackAddress[(int)CallbackType.Syscall];
            if (handler == 0)
            {
                GuestTraps.Bounce(vcpu, frame, 6, hasError: false, 0);
                return;
            }
            if (!TrapBounce.Deliver(vcpu, frame, handler, vcpu.Traps.CallbackMasksEvents[(int)CallbackType.Syscall], hasErrorCode: false, 0))
            {
                Domains.DomainLifecycle.Crash(vcpu.Domain, frame, "a fault while delivering a system call (the guest kernel stack is not writable)");
            }
        }

        /// <summary>The SYSCALL instruction (0F 05), which a continuation makes the guest execute again.</summary>
        private const ulong SyscallLength = 2;

        // A handler that stops the vCPU (yield, block, shutdown) only asks the scheduler, which switches
        // after the result is in the caller's RAX. Multicall dispatches its entries here too.
        internal static long Dispatch(Vcpu vcpu, HypercallNumber number, in HypercallArguments call, InterruptFrame* frame) => number switch
        {
            HypercallNumber.SetTrapTable => TrapHypercalls.SetTrapTable(vcpu, call.A1),
            HypercallNumber.MmuUpdate => MemoryHypercalls.MmuUpdate(vcpu, call),
            HypercallNumber.FpuTaskswitch => VcpuStateHypercalls.FpuTaskswitch(vcpu, call.A1),
            HypercallNumber.MemoryOp => MemoryOp.Handle(vcpu, call),
            HypercallNumber.Multicall => Multicall.Handle(vcpu, call, frame),
            HypercallNumber.VmAssist => VmAssistRules.Apply(ref vcpu.Domain.VmAssist, (uint)call.A1, (uint)call.A2),
            HypercallNumber.SetSegmentBase => VcpuStateHypercalls.SetSegmentBase(vcpu, call.A1, call.A2),
            HypercallNumber.UpdateVaMapping => MemoryHypercalls.UpdateVaMapping(vcpu, call),
            HypercallNumber.MmuextOp => MemoryHypercalls.MmuExtOp(vcpu, call),
            HypercallNumber.StackSwitch => TrapHypercalls.StackSwitch(vcpu, call.A2),
            HypercallNumber.SetCallbacks => TrapHypercalls.SetCallbacks(vcpu, call),
            HypercallNumber.Iret => TrapHypercalls.Iret(vcpu, frame),
            HypercallNumber.CallbackOp => TrapHypercalls.CallbackOp(vcpu, call),
            HypercallNumber.ConsoleIo => ConsoleIo.Handle(vcpu, call),
            HypercallNumber.SetTimerOp => TimeHypercalls.SetTimerOp(vcpu, call.A1),
            HypercallNumber.Domctl => Domctl.Handle(vcpu, call.A1),
            HypercallNumber.EventChannelOp => EventChannelOp.Handle(vcpu, call),
            HypercallNumber.PhysdevOp => PhysdevOp.Handle(vcpu, call),
            HypercallNumber.GrantTableOp => GrantTableOp.Handle(vcpu, call),
            HypercallNumber.VcpuOp => TimeHypercalls.VcpuOp(vcpu, call),
            HypercallNumber.XenVersion => XenVersion.Handle(vcpu, call),
            HypercallNumber.SchedOp => SchedOp.Handle(vcpu, call),
            _ => Errno.ENOSYS,
        };

        /// <summary>
        /// Leaves the rest of a hypercall to the guest's next attempt (Xen's hypercall_create_continuation for
        /// a 64-bit PV guest): RIP goes back over the SYSCALL, the first two argument registers get what is
        /// left to do, and the result returned, which becomes RAX, is the hypercall's number. The guest
        /// issues the call again when it next runs, after any interrupt pending meanwhile has been taken.
        /// </summary>
        internal static long Continue(InterruptFrame* frame, HypercallNumber number, ulong a1, ulong a2)
        {
            frame->Rip -= SyscallLength;
            frame->Rdi = a1;
            frame->Rsi = a2;
            return (long)number;
        }
    }

    /// <summary>The five argument registers of a hypercall, as the guest left them: allegations, unchecked.</summary>
    internal readonly struct HypercallArguments
    {
        internal readonly ulong A1, A2, A3, A4, A5;

        internal HypercallArguments(ulong a1, ulong a2, ulong a3, ulong a4, ulong a5)
        {
            A1 = a1; A2 = a2; A3 = a3; A4 = a4; A5 = a5;
        }
    }
}

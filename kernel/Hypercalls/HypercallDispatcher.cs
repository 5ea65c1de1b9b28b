using Keel.Kernel.Arch.X64;
using Keel.Kernel.Objects;
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
            var call = new HypercallArguments(frame->Rdi, frame->Rsi, frame->Rdx, frame->R10, frame->R8);
            frame->Rax = (ulong)Dispatch(vcpu, (HypercallNumber)frame->Rax, call);
        }

        // A handler that stops the vCPU (yield, block, shutdown) only asks the scheduler, which switches
        // after the result is in the caller's RAX.
        private static long Dispatch(Vcpu vcpu, HypercallNumber number, in HypercallArguments call) => number switch
        {
            HypercallNumber.ConsoleIo => ConsoleIo.Handle(vcpu, call),
            HypercallNumber.XenVersion => XenVersion.Handle(vcpu, call),
            HypercallNumber.SchedOp => SchedOp.Handle(vcpu, call),
            _ => Errno.ENOSYS,
        };
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

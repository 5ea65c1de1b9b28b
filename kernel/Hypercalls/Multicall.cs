using System;
using Keel.Kernel.Arch.X64;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// multicall (13), xen/common/multicall.c: runs a list of struct multicall_entry through the ordinary
    /// dispatcher, one entry copied in at a time, writing each result back into its entry. A nested multicall
    /// is refused (-EINVAL in its entry); an unreadable entry or result ends the call with -EFAULT; iret ends
    /// it with the iret's own result (XSA-213). A call that deschedules only asks the scheduler, which switches
    /// when the kernel leaves: after a yield the list goes on and the yield happens at its end; after a block
    /// the rest is left to a continuation, so it runs once the vCPU is woken, as on Xen; after a shutdown or
    /// a crash the domain's memory is gone and nothing more is touched. A long list is carried out
    /// <see cref="MulticallRules.EntriesPerVisit"/> entries per kernel entry, through continuations.
    /// </summary>
    internal static unsafe class Multicall
    {
        internal static long Handle(Vcpu vcpu, in HypercallArguments call, InterruptFrame* frame)
        {
            ulong list = call.A1, count = call.A2;
            if (!MulticallRules.ListAccepted(list, count)) return Errno.EFAULT;
            for (ulong i = 0; i < count; i++)
            {
                ulong at = list + i * MulticallRules.EntryBytes;
                if (MulticallRules.PreemptBefore(i)) return HypercallDispatcher.Continue(frame, HypercallNumber.Multicall, at, count - i);
                if (!GuestMemory.TryRead(vcpu, at, out MulticallEntry entry)) return Errno.EFAULT;
                var op = (HypercallNumber)entry.Op;
                long result = MulticallRules.IsRefusedInside(op)
                    ? Errno.EINVAL
                    : HypercallDispatcher.Dispatch(vcpu, op, new HypercallArguments(entry.Arg1, entry.Arg2, entry.Arg3, entry.Arg4, entry.Arg5), frame);
                MulticallStep step = MulticallRules.After(op, vcpu.Domain.IsAlive, vcpu.Runnable);
                if (step == MulticallStep.Abandon) return 0;
                bool written = GuestMemory.TryWrite(vcpu, at + sizeof(ulong), new ReadOnlySpan<byte>(&result, sizeof(long)));
                // After iret the write goes through whichever table the iret left loaded: best effort, as on Xen.
                if (step == MulticallStep.Exit) return result;
                if (!written) return Errno.EFAULT;
                if (step == MulticallStep.ContinueLater)
                {
                    return i + 1 < count ? HypercallDispatcher.Continue(frame, HypercallNumber.Multicall, at + MulticallRules.EntryBytes, count - i - 1) : 0;
                }
            }
            return 0;
        }
    }
}

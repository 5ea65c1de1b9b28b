using System;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Kernel.Paging;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// Direct paging's hypercalls (xen/arch/x86/mm.c): mmu_update (1), update_va_mapping (14) and mmuext_op
    /// (26). Each copies the guest's request array in a batch at a time, hands the copies to the direct-paging
    /// rules (which check every entry) and carries out the TLB flush they ask for. A batch stops at its first
    /// failure; *done, when the guest passes it, says how many requests took effect.
    /// </summary>
    internal static unsafe class MemoryHypercalls
    {
        /// <summary>Xen splits long batches with continuations; Keel takes at most this many requests a call.</summary>
        internal const ulong MaxRequests = 1 << 16;

        private const int Batch = 32;

        internal static long MmuUpdate(Vcpu vcpu, in HypercallArguments call)
        {
            ulong count = call.A2 & 0xFFFF_FFFF;
            if (count > MaxRequests) return Errno.EINVAL;
            MmuUpdateRequest* batch = stackalloc MmuUpdateRequest[Batch];
            ulong done = 0;
            long rc = 0;
            while (done < count && rc == 0)
            {
                int n = (int)Math.Min((ulong)Batch, count - done);
                var requests = new Span<MmuUpdateRequest>(batch, n);
                if (!GuestMemory.TryRead(vcpu, call.A1 + done * 16, System.Runtime.InteropServices.MemoryMarshal.AsBytes(requests))) return Finish(vcpu, call.A3, done, Errno.EFAULT);
                TlbFlush flush = default;
                rc = MachinePaging.Paging.MmuUpdate(vcpu.Domain.Id, requests, (uint)call.A4, out int applied, ref flush);
                MachinePaging.Apply(flush, vcpu);
                done += (ulong)applied;
            }
            return Finish(vcpu, call.A3, done, rc);
        }

        internal static long UpdateVaMapping(Vcpu vcpu, in HypercallArguments call)
        {
            TlbFlush flush = default;
            long rc = MachinePaging.Paging.UpdateVaMapping(vcpu.Domain.Id, vcpu.Tables, call.A1, call.A2, call.A3, ref flush);
            MachinePaging.Apply(flush, vcpu);
            return rc;
        }

        internal static long MmuExtOp(Vcpu vcpu, in HypercallArguments call)
        {
            ulong count = call.A2 & 0xFFFF_FFFF;
            if (count > MaxRequests) return Errno.EINVAL;
            MmuExtRequest* batch = stackalloc MmuExtRequest[Batch];
            ulong done = 0;
            long rc = 0;
            while (done < count && rc == 0)
            {
                int n = (int)Math.Min((ulong)Batch, count - done);
                var requests = new Span<MmuExtRequest>(batch, n);
                if (!GuestMemory.TryRead(vcpu, call.A1 + done * 24, System.Runtime.InteropServices.MemoryMarshal.AsBytes(requests))) return Finish(vcpu, call.A3, done, Errno.EFAULT);
                TlbFlush flush = default;
                rc = MachinePaging.Paging.MmuExtOp(vcpu.Domain.Id, ref vcpu.Tables, requests, (uint)call.A4, out int applied, ref flush);
                MachinePaging.Apply(flush, vcpu);
                done += (ulong)applied;
            }
            return Finish(vcpu, call.A3, done, rc);
        }

        /// <summary>Writes the count of requests done where the guest asked (if it did), then gives the result.</summary>
        private static long Finish(Vcpu vcpu, ulong doneAddress, ulong done, long rc)
        {
            uint value = (uint)done;
            if (doneAddress != 0 && !GuestMemory.TryWrite(vcpu, doneAddress, new ReadOnlySpan<byte>(&value, 4))) return Errno.EFAULT;
            return rc;
        }
    }
}

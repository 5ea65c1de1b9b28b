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

        internal static long MmuUpdate(Vcpu vcpu, in HypercallArguments call) => RunBatches<MmuUpdateRequest, MmuUpdates>(vcpu, call);

        internal static long UpdateVaMapping(Vcpu vcpu, in HypercallArguments call)
        {
            TlbFlush flush = default;
            long rc = MachinePaging.Paging.UpdateVaMapping(vcpu.Domain.Id, vcpu.Tables, call.A1, call.A2, call.A3, ref flush);
            MachinePaging.Apply(flush, vcpu);
            return rc;
        }

        internal static long MmuExtOp(Vcpu vcpu, in HypercallArguments call) => RunBatches<MmuExtRequest, MmuExtOps>(vcpu, call);

        /// <summary>What one kind of request array asks of direct paging, a batch at a time.</summary>
        private interface IRequestKind<T> where T : unmanaged
        {
            long Apply(Vcpu vcpu, Span<T> requests, uint foreignDomain, out int applied, ref TlbFlush flush);
        }

        private struct MmuUpdates : IRequestKind<MmuUpdateRequest>
        {
            public long Apply(Vcpu vcpu, Span<MmuUpdateRequest> requests, uint foreignDomain, out int applied, ref TlbFlush flush) =>
                MachinePaging.Paging.MmuUpdate(vcpu.Domain.Id, requests, foreignDomain, out applied, ref flush);
        }

        private struct MmuExtOps : IRequestKind<MmuExtRequest>
        {
            public long Apply(Vcpu vcpu, Span<MmuExtRequest> requests, uint foreignDomain, out int applied, ref TlbFlush flush) =>
                MachinePaging.Paging.MmuExtOp(vcpu.Domain.Id, ref vcpu.Tables, requests, foreignDomain, out applied, ref flush);
        }

        /// <summary>
        /// (requests, count, done, foreigndom): copies the array in Batch requests at a time, applies each batch
        /// and its TLB flush, and stops at the first failure. The kind is a struct type argument, so the
        /// dispatch costs no allocation and no indirect call.
        /// </summary>
        private static long RunBatches<T, TKind>(Vcpu vcpu, in HypercallArguments call) where T : unmanaged where TKind : struct, IRequestKind<T>
        {
            ulong count = call.A2 & 0xFFFF_FFFF;
            if (count > MaxRequests) return Errno.EINVAL;
            T* batch = stackalloc T[Batch];
            ulong done = 0;
            long rc = 0;
            while (done < count && rc == 0)
            {
                int n = (int)Math.Min((ulong)Batch, count - done);
                var requests = new Span<T>(batch, n);
                if (!GuestMemory.TryRead(vcpu, call.A1 + done * (ulong)sizeof(T), System.Runtime.InteropServices.MemoryMarshal.AsBytes(requests))) return Finish(vcpu, call.A3, done, Errno.EFAULT);
                TlbFlush flush = default;
                rc = default(TKind).Apply(vcpu, requests, (uint)call.A4, out int applied, ref flush);
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

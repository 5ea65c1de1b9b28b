using System;
using Keel.Kernel.Arch.X64;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Traps
{
    /// <summary>
    /// Delivers a trap, a system call from guest user mode or an event upcall to the guest kernel's handler,
    /// with Xen's 64-bit PV bounce frame (xen/arch/x86/x86_64/entry.S, create_bounce_frame). From guest user
    /// mode the vCPU first switches to guest kernel mode and its stack_switch stack; the frame is written
    /// below the (16-byte aligned) stack, from high to low: SS, RSP, RFLAGS (IF = the virtual interrupt
    /// flag, !upcall_mask), CS (RPL 0 when the guest was in kernel mode; the saved upcall mask in bits
    /// 32-39), RIP, the error code if the trap has one, R11, RCX. The guest resumes at the handler on that
    /// stack, in guest kernel mode, with events masked if the entry asks for it.
    /// </summary>
    internal static unsafe class TrapBounce
    {
        private const ulong InterruptFlag = 1UL << 9;
        // TF, NT, RF and VM are cleared on entry to the handler, as Xen does.
        private const ulong ClearedOnEntry = (1UL << 8) | (1UL << 14) | (1UL << 16) | (1UL << 17);

        /// <summary>False when the frame cannot be written (an unmapped or read-only guest stack): the caller crashes the domain.</summary>
        internal static bool Deliver(Vcpu vcpu, InterruptFrame* frame, ulong handler, bool maskEvents, bool hasErrorCode, ulong errorCode)
        {
            bool fromUser = vcpu.InUserMode;
            if (fromUser) GuestMode.Toggle(vcpu);
            ulong stack = (fromUser ? vcpu.Traps.KernelStackPointer : frame->Rsp) & ~15UL;

            bool masked = vcpu.EventsMasked;
            Span<ulong> bounce = stackalloc ulong[8];
            int n = 0;
            bounce[n++] = frame->Rcx;
            bounce[n++] = frame->R11;
            if (hasErrorCode) bounce[n++] = errorCode;
            bounce[n++] = frame->Rip;
            bounce[n++] = (fromUser ? frame->Cs : frame->Cs & ~3UL) | ((masked ? 1UL : 0UL) << 32);
            bounce[n++] = (frame->Rflags & ~InterruptFlag) | (masked ? 0 : InterruptFlag);
            bounce[n++] = frame->Rsp;
            bounce[n++] = frame->Ss;
            ulong bottom = stack - (ulong)n * 8;
            if (bottom > stack || !GuestMemory.TryWrite(vcpu, bottom, System.Runtime.InteropServices.MemoryMarshal.AsBytes(bounce.Slice(0, n)))) return false;

            frame->Rsp = bottom;
            frame->Rip = handler;
            frame->Cs = DescriptorTables.GuestCode64;
            frame->Ss = DescriptorTables.GuestData;
            frame->Rflags = (frame->Rflags & ~ClearedOnEntry) | InterruptFlag;
            if (maskEvents) vcpu.EventsMasked = true;
            return true;
        }
    }
}

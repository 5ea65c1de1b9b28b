using System;
using Keel.Kernel.Arch.X64;
using Keel.Kernel.Domains;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Traps
{
    /// <summary>
    /// What the kernel does with an exception a guest raised (xen/arch/x86/traps.c and pv/emul-*.c): first
    /// the few instructions a PV kernel relies on the hypervisor to emulate, then delivery to the guest's own
    /// handler through its virtual IDT. An exception with no handler, or whose frame cannot be written, ends
    /// the domain.
    /// </summary>
    internal static unsafe class GuestTraps
    {
        private const ulong InvalidOpcode = 6, DeviceNotAvailable = 7, GeneralProtection = 13, PageFault = 14;
        private const ulong PageFaultUserBit = 4;

        internal static void HandleException(Vcpu vcpu, InterruptFrame* frame, ulong faultAddress)
        {
            ulong vector = frame->Vector;
            if (vector == InvalidOpcode && Emulation.TryForcedCpuid(vcpu, frame)) return;
            if (vector == GeneralProtection)
            {
                if (Emulation.TryPrivileged(vcpu, frame)) return;
                if (Emulation.TryPortIo(vcpu, frame)) return;
                if (TrySoftwareInterrupt(vcpu, frame)) return;
            }
            // #NM comes from the guest's own virtual TS (fpu_taskswitch): Xen's do_device_not_available
            // delivers it and clears that TS, so the handler can use the FPU without another call.
            if (vector == DeviceNotAvailable) vcpu.TaskSwitched = false;
            bool hasError = vector == 8 || (vector >= 10 && vector <= 14) || vector == 17;
            ulong error = frame->ErrorCode;
            if (vector == PageFault)
            {
                // The guest kernel runs in ring 3, so the CPU always reports a user access; the guest must see
                // the mode it was in (Xen: pv_inject_page_fault).
                error = vcpu.InUserMode ? error | PageFaultUserBit : error & ~PageFaultUserBit;
                *(ulong*)(vcpu.Info + SharedInfoLayout.Cr2) = faultAddress;
            }
            Bounce(vcpu, frame, (int)vector, hasError, error);
        }

        /// <summary>Delivers vector to the guest's handler, or crashes the domain if it has none or the frame cannot be written.</summary>
        internal static void Bounce(Vcpu vcpu, InterruptFrame* frame, int vector, bool hasError, ulong error)
        {
            TrapEntry entry = vcpu.Traps.Table[vector];
            if (entry.Address == 0)
            {
                DomainLifecycle.Crash(vcpu.Domain, frame, "an exception the guest has no handler for");
                return;
            }
            if (!TrapBounce.Deliver(vcpu, frame, entry.Address, entry.MasksEvents, hasError, error))
            {
                DomainLifecycle.Crash(vcpu.Domain, frame, "a fault while delivering an exception (the guest kernel stack is not writable)");
            }
        }

        /// <summary>
        /// `int n` whose IDT gate refuses ring 3 arrives as #GP with the IDT bit set. The vector is read from
        /// the instruction (CD ib) rather than the error code, which QEMU 7.2's TCG reports wrongly (n * 16 + 2;
        /// QEMU issue 1382). It is delivered if the guest's own entry allows the guest's mode (kernel mode is
        /// Xen's ring 1, user mode ring 3), with RIP after the instruction, as the CPU would.
        /// </summary>
        private static bool TrySoftwareInterrupt(Vcpu vcpu, InterruptFrame* frame)
        {
            if ((frame->ErrorCode & 2) == 0) return false;
            Span<byte> code = stackalloc byte[2];
            if (!GuestMemory.TryRead(vcpu, frame->Rip, code) || code[0] != 0xCD) return false;
            TrapEntry entry = vcpu.Traps.Table[code[1]];
            int mode = vcpu.InUserMode ? 3 : 1;
            if (entry.Address == 0 || entry.Dpl < mode) return false;
            frame->Rip += 2;
            Bounce(vcpu, frame, code[1], hasError: false, 0);
            return true;
        }
    }
}

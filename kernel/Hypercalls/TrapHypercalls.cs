using System;
using Keel.Kernel.Arch.X64;
using Keel.Kernel.Domains;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Kernel.Traps;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// The hypercalls that set up a PV64 guest's virtual traps and leave its handlers (xen/arch/x86/pv/
    /// traps.c, callback.c, iret.c): set_trap_table (0), stack_switch (3), set_callbacks (4), iret (23) and
    /// callback_op (30).
    /// </summary>
    internal static unsafe class TrapHypercalls
    {
        /// <summary>A table longer than this many entries is refused: there are only 256 vectors to set.</summary>
        private const int MaxTrapEntries = 1024;
        private const ulong InterruptFlag = 1UL << 9;
        // IOPL and VM may not reach the real RFLAGS; IF is always on there (Xen: do_iret).
        private const ulong RefusedFlags = (3UL << 12) | (1UL << 17);
        private const ulong InSyscall = 1UL << 8;

        /// <summary>struct trap_info (16 bytes): u8 vector, u8 flags, u16 cs, then the handler's address at 8.</summary>
        private struct TrapInfo
        {
            internal byte Vector, Flags;
            internal ushort Cs;
            internal uint Padding;
            internal ulong Address;
        }

        /// <summary>
        /// set_trap_table(traps): merges entries into the virtual IDT up to the first with address 0; a null
        /// pointer clears the whole table. Entries are copied in one at a time, as Xen does.
        /// </summary>
        internal static long SetTrapTable(Vcpu vcpu, ulong traps)
        {
            if (traps == 0)
            {
                vcpu.Traps.Clear();
                return 0;
            }
            for (int i = 0; i < MaxTrapEntries; i++)
            {
                if (!GuestMemory.TryRead(vcpu, traps + (ulong)i * 16, out TrapInfo info)) return Errno.EFAULT;
                if (info.Address == 0) return 0;
                if (!IsCanonical(info.Address)) return Errno.EINVAL;
                vcpu.Traps.Table[info.Vector] = new TrapEntry { Flags = info.Flags, Address = info.Address };
            }
            return Errno.E2BIG;
        }

        /// <summary>stack_switch(ss, rsp): the stack traps from guest user mode land on.</summary>
        internal static long StackSwitch(Vcpu vcpu, ulong rsp)
        {
            vcpu.Traps.KernelStackPointer = rsp;
            return 0;
        }

        /// <summary>set_callbacks(event, failsafe, syscall) on x86-64.</summary>
        internal static long SetCallbacks(Vcpu vcpu, in HypercallArguments call)
        {
            if (!IsCanonical(call.A1) || !IsCanonical(call.A2) || !IsCanonical(call.A3)) return Errno.EINVAL;
            Register(vcpu, CallbackType.Event, call.A1, masks: false);
            Register(vcpu, CallbackType.Failsafe, call.A2, masks: false);
            Register(vcpu, CallbackType.Syscall, call.A3, masks: false);
            return 0;
        }

        /// <summary>struct callback_register: u16 type, u16 flags (CALLBACKF_mask_events 1), u64 address at 8.</summary>
        private struct CallbackRegister
        {
            internal ushort Type, Flags;
            internal uint Padding;
            internal ulong Address;
        }

        /// <summary>callback_op(CALLBACKOP_register 0 | CALLBACKOP_unregister 1, argument).</summary>
        internal static long CallbackOp(Vcpu vcpu, in HypercallArguments call)
        {
            if (call.A1 > 1) return Errno.ENOSYS;
            if (!GuestMemory.TryRead(vcpu, call.A2, out CallbackRegister request)) return Errno.EFAULT;
            var type = (CallbackType)request.Type;
            if (type != CallbackType.Event && type != CallbackType.Failsafe && type != CallbackType.Syscall
                && type != CallbackType.Syscall32 && type != CallbackType.Sysenter && type != CallbackType.Nmi) return Errno.EINVAL;
            if (call.A1 == 1)
            {
                // Xen refuses to unregister the event and failsafe callbacks: a guest always has them.
                if (type == CallbackType.Event || type == CallbackType.Failsafe) return Errno.EINVAL;
                Register(vcpu, type, 0, masks: false);
                return 0;
            }
            if ((request.Flags & ~1) != 0 || !IsCanonical(request.Address)) return Errno.EINVAL;
            Register(vcpu, type, request.Address, (request.Flags & 1) != 0);
            return 0;
        }

        private static void Register(Vcpu vcpu, CallbackType type, ulong address, bool masks)
        {
            vcpu.Traps.CallbackAddress[(int)type] = address;
            vcpu.Traps.CallbackMasksEvents[(int)type] = masks;
        }

        /// <summary>The guest's iret frame (struct iret_context), which the hypercall page's iret stub leaves at RSP.</summary>
        private struct IretContext
        {
            internal ulong Rax, R11, Rcx, Flags, Rip, Cs, Rflags, Rsp, Ss;
        }

        /// <summary>
        /// iret (23): returns from a guest handler. CS with RPL 3 returns to guest user mode; the virtual
        /// interrupt flag (upcall_mask) comes from the frame's IF while the real one stays on; RCX and R11 are
        /// restored unless the guest says it returns from a system call (VGCF_in_syscall), where SYSRET would
        /// have left RIP and RFLAGS in them. Only the flat ring-3 selectors and a canonical RIP are accepted,
        /// so the kernel's own IRETQ cannot fault; anything else, or an unreadable frame, crashes the domain
        /// (as Xen's domain_crash in do_iret). The result is the frame's RAX.
        /// </summary>
        internal static long Iret(Vcpu vcpu, InterruptFrame* frame)
        {
            if (!GuestMemory.TryRead(vcpu, frame->Rsp, out IretContext context))
            {
                DomainLifecycle.Crash(vcpu.Domain, frame, "iret with an unreadable frame");
                return 0;
            }
            // The selector is the low 16 bits; a bounce frame's CS carries the saved upcall mask above them.
            ulong cs = (context.Cs & 0xFFFF) | 3, ss = (context.Ss & 0xFFFF) | 3;
            if ((cs != DescriptorTables.GuestCode64 && cs != DescriptorTables.GuestCode32) || ss != DescriptorTables.GuestData || !IsCanonical(context.Rip))
            {
                DomainLifecycle.Crash(vcpu.Domain, frame, "iret to a selector or address a guest may not use");
                return 0;
            }
            if ((context.Cs & 3) == 3 && !vcpu.InUserMode) GuestMode.Toggle(vcpu);
            vcpu.EventsMasked = (context.Rflags & InterruptFlag) == 0;
            frame->Rip = context.Rip;
            frame->Cs = cs;
            frame->Rflags = (context.Rflags & ~RefusedFlags) | InterruptFlag | 2;
            frame->Rsp = context.Rsp;
            frame->Ss = ss;
            if ((context.Flags & InSyscall) == 0)
            {
                frame->R11 = context.R11;
                frame->Rcx = context.Rcx;
            }
            else
            {
                frame->R11 = frame->Rflags;
                frame->Rcx = frame->Rip;
            }
            return (long)context.Rax;
        }

        private static bool IsCanonical(ulong address) => AddressSpace<DirectMap>.IsCanonical(address);
    }
}

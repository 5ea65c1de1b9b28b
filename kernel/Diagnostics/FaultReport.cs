using System;
using Keel.Kernel.Arch.X64;
using Keel.Kernel.Memory;

namespace Keel.Kernel.Diagnostics
{
    /// <summary>
    /// Prints what a person needs to understand a kernel fault or an unhandled exception: what happened,
    /// where (address and symbol), the registers, and the code bytes at the faulting address; then stops
    /// the machine with a failure status. Allocation-free, since the heap may be the problem.
    /// </summary>
    internal static unsafe class FaultReport
    {
        internal static SymbolMap Symbols;

        /// <summary>The kernel stack's unmapped guard page, [StackGuard, StackGuard + 4 KiB).</summary>
        internal static ulong StackGuard;

        // Exception names (Intel SDM vol. 3A, table 6-1).
        private static string Name(ulong vector) => vector switch
        {
            0 => "#DE divide error",
            1 => "#DB debug",
            2 => "NMI",
            3 => "#BP breakpoint",
            4 => "#OF overflow",
            5 => "#BR bound range exceeded",
            6 => "#UD invalid opcode",
            7 => "#NM device not available",
            8 => "#DF double fault",
            10 => "#TS invalid TSS",
            11 => "#NP segment not present",
            12 => "#SS stack-segment fault",
            13 => "#GP general protection",
            14 => "#PF page fault",
            16 => "#MF x87 floating-point error",
            17 => "#AC alignment check",
            18 => "#MC machine check",
            19 => "#XM SIMD floating-point exception",
            20 => "#VE virtualization exception",
            21 => "#CP control protection",
            _ => "reserved exception",
        };

        internal static void CpuException(InterruptFrame* frame)
        {
            Console.WriteLine();
            Console.Write("*** KERNEL FAULT: ");
            ExceptionLine(frame);
            Console.Write("rip ");
            Console.Hex(frame->Rip);
            Console.Write(' ');
            WriteSymbol(frame->Rip);
            Console.WriteLine();
            ulong cr2 = AddressSpaceSwitch.FaultAddress;
            ControlLine(frame, cr2, AddressSpaceSwitch.Current);
            if (StackGuard != 0 && cr2 >= StackGuard && cr2 < StackGuard + 4096)
            {
                Console.WriteLine("cr2 is in the kernel stack's guard page: the kernel stack overflowed");
            }
            RegisterLines(frame);
            Console.Write("bytes at rip:");
            var space = KernelAddressSpace.Current;
            if (space == null || !space.Translate(frame->Rip, out _, out _) || !space.Translate(frame->Rip + 15, out _, out _))
            {
                Console.WriteLine(" (not mapped)");
            }
            else
            {
                CodeBytes(new ReadOnlySpan<byte>((byte*)frame->Rip, 16));
            }
            StopWithFailure();
        }

        /// <summary>
        /// A guest's exception the kernel could not deliver to it: the same facts as a kernel fault, with the
        /// code bytes read through the guest's own page tables. The domain is ended by the caller; the
        /// machine goes on.
        /// </summary>
        internal static void GuestException(Objects.Domain domain, InterruptFrame* frame, ulong cr2, string why)
        {
            Console.WriteLine();
            Console.Write("*** domain ");
            Console.Decimal(domain.Id);
            Console.Write(" (");
            Console.Write(domain.Name);
            Console.Write(") crashed: ");
            Console.WriteLine(why);
            if (frame->Vector < 32)
            {
                Console.Write("exception: ");
                ExceptionLine(frame);
            }
            Console.Write("rip ");
            Console.Hex(frame->Rip);
            Console.WriteLine(domain.Vcpu.InUserMode ? " in guest user mode" : " in guest kernel mode");
            ControlLine(frame, cr2, domain.Vcpu.CurrentTable);
            RegisterLines(frame);
            Console.Write("bytes at rip:");
            Span<byte> code = stackalloc byte[16];
            if (GuestMemory.TryRead(domain.Vcpu, frame->Rip, code)) CodeBytes(code);
            else Console.WriteLine(" (not mapped)");
        }

        /// <summary>One line for the control domain (domctl crash report): why, and for an exception which and where.</summary>
        internal static string Summary(InterruptFrame* frame, string why)
        {
            if (frame->Vector >= 32) return why;
            System.Span<byte> rip = stackalloc byte[16];
            Text.NumberFormat.Hex(frame->Rip, 16, rip);
            char* digits = stackalloc char[16];
            for (int i = 0; i < 16; i++) digits[i] = (char)rip[i];
            return why + ": " + Name(frame->Vector) + " at rip 0x" + new string(digits, 0, 16);
        }

        private static void ExceptionLine(InterruptFrame* frame)
        {
            Console.Write(Name(frame->Vector));
            Console.Write(" (vector ");
            Console.Decimal(frame->Vector);
            Console.Write("), error code ");
            Console.Hex(frame->ErrorCode, 4);
            if (frame->Vector == 14) DescribePageFault(frame->ErrorCode);
            Console.WriteLine();
        }

        private static void ControlLine(InterruptFrame* frame, ulong cr2, ulong cr3)
        {
            Console.Write("cr2 ");
            Console.Hex(cr2);
            Console.Write("  cr3 ");
            Console.Hex(cr3);
            Console.Write("  cs ");
            Console.Hex(frame->Cs, 4);
            Console.Write("  ss ");
            Console.Hex(frame->Ss, 4);
            Console.Write("  rflags ");
            Console.Hex(frame->Rflags, 8);
            Console.WriteLine();
        }

        private static void RegisterLines(InterruptFrame* frame)
        {
            Registers("rax", frame->Rax, "rbx", frame->Rbx, "rcx", frame->Rcx, "rdx", frame->Rdx);
            Registers("rsi", frame->Rsi, "rdi", frame->Rdi, "rbp", frame->Rbp, "rsp", frame->Rsp);
            Registers("r8 ", frame->R8, "r9 ", frame->R9, "r10", frame->R10, "r11", frame->R11);
            Registers("r12", frame->R12, "r13", frame->R13, "r14", frame->R14, "r15", frame->R15);
        }

        internal static void UnhandledException(Internal.Runtime.FatalReport* report)
        {
            Console.WriteLine();
            Console.Write("*** UNHANDLED EXCEPTION");
            if (report->ExceptionType != null)
            {
                Console.Write(": ");
                if (Symbols != null && Symbols.TryFind((ulong)report->ExceptionType, out ReadOnlySpan<byte> symbol, out ulong offset) && offset == 0)
                {
                    Span<byte> name = stackalloc byte[128];
                    Console.Write(name.Slice(0, SymbolMap.ReadableTypeName(symbol, name)));
                }
                else
                {
                    Console.Write("type at ");
                    Console.Hex((ulong)report->ExceptionType);
                }
            }
            Console.WriteLine();
            Console.Write("message: ");
            for (int i = 0; i < report->MessageLength; i++)
            {
                char c = report->Message[i];
                Console.Write(c < 0x80 ? c : '?');
            }
            Console.WriteLine();
            if (report->ThrowSite != 0)
            {
                Console.Write("thrown at ");
                Console.Hex(report->ThrowSite);
                Console.Write(' ');
                WriteSymbol(report->ThrowSite);
                Console.Write("  rsp ");
                Console.Hex(report->StackPointer);
                Console.WriteLine();
            }
            StopWithFailure();
        }

        private static void StopWithFailure()
        {
            Console.WriteLine("*** stopping the machine");
            Machine.Stop(ExitStatus.Failure);
        }

        // Page-fault error code bits (SDM 3A, figure 4-12): P, W/R, U/S, RSVD, I/D.
        private static void DescribePageFault(ulong error)
        {
            Console.Write((error & 1) != 0 ? " [protection violation" : " [not present");
            Console.Write((error & 2) != 0 ? ", write" : ", read");
            Console.Write((error & 4) != 0 ? ", user" : ", supervisor");
            if ((error & 8) != 0) Console.Write(", reserved bit set");
            if ((error & 16) != 0) Console.Write(", instruction fetch");
            Console.Write("]");
        }

        private static void Registers(string name1, ulong value1, string name2, ulong value2, string name3, ulong value3, string name4, ulong value4)
        {
            Register(name1, value1);
            Console.Write("  ");
            Register(name2, value2);
            Console.Write("  ");
            Register(name3, value3);
            Console.Write("  ");
            Register(name4, value4);
            Console.WriteLine();
        }

        private static void Register(string name, ulong value)
        {
            Console.Write(name);
            Console.Write(' ');
            Console.Hex(value);
        }

        private static void WriteSymbol(ulong address)
        {
            if (Symbols != null && Symbols.TryFind(address, out ReadOnlySpan<byte> name, out ulong offset))
            {
                Console.Write('<');
                Console.Write(name);
                Console.Write('+');
                Console.Hex(offset, 4);
                Console.Write('>');
            }
            else
            {
                Console.Write("<no symbol>");
            }
        }

        private static void CodeBytes(ReadOnlySpan<byte> code)
        {
            for (int i = 0; i < code.Length; i++)
            {
                Console.Write(' ');
                Console.HexByte(code[i]);
            }
            Console.WriteLine();
        }
    }
}

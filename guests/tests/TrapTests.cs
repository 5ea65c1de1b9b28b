using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// The "traps" test: the domain installs its own virtual IDT and shows, one line each, that every kind
    /// of trap reaches its handler with the right vector and error code and that iret brings it back; then
    /// the kernel's emulations (mov from cr3, forced CPUID) and a round trip through guest user mode.
    /// </summary>
    internal static unsafe class TrapTests
    {
        private static ulong s_lastError;

        internal static void Run()
        {
            GuestTraps.Handler = OnTrap;
            DomainConsole.WriteLine("shared_info mapped: " + DomainConsole.Decimal(SharedInfo.Map()));
            byte* vectors = stackalloc byte[] { 0, 3, 6, 13, 14 };
            DomainConsole.WriteLine("set_trap_table: " + DomainConsole.Decimal(GuestTraps.Install(new System.ReadOnlySpan<byte>(vectors, 5), 0)));
            byte* software = stackalloc byte[] { 0x80 };
            GuestTraps.Install(new System.ReadOnlySpan<byte>(software, 1), 3);

            Report("int3", Probes.Int3());
            Report("int 0x80", Probes.Int80());
            Report("ud2", Probes.Ud2());
            Report("divide by zero", Probes.DivideByZero());
            Report("write to unmapped 0x1000", Probes.Write(0x1000));
            Report("read of kernel memory", Probes.Read(0xFFFF82D080200000));
            Report("write to the read-only M2P", Probes.Write(0xFFFF800000000000));
            Report("cli", Probes.Cli());
            Report("hlt", Probes.Hlt());
            Report("out", Probes.Out());
            Report("wrmsr", Probes.Wrmsr());
            Report("mov to cr3", Probes.WriteCr3(0));
            ulong* gdtr = stackalloc ulong[2];
            Report("lgdt", Probes.Lgdt(gdtr));

            StartInfo* info = DomainEntry.StartInfo;
            ulong cr3 = Probes.ReadCr3();
            ulong expected = ((ulong*)info->MfnList)[(info->PtBase - DomainEntry.ImageBase) / 4096] << 12;
            DomainConsole.WriteLine("mov from cr3: " + DomainConsole.Hex(cr3) + (cr3 == expected ? " (the L4's machine address)" : " (expected " + DomainConsole.Hex(expected) + ")"));

            uint* regs = stackalloc uint[4];
            Probes.ForcedCpuid(0x40000000, regs);
            char* signature = stackalloc char[12];
            for (int i = 0; i < 12; i++) signature[i] = (char)((regs[1 + i / 4] >> (8 * (i % 4))) & 0xFF);
            DomainConsole.WriteLine("forced cpuid 0x40000000: " + new string(signature, 0, 12) + ", max leaf " + DomainConsole.Hex(regs[0]));

            ulong rax = UserMode.RoundTrip(out ulong cs, out ulong rip);
            DomainConsole.WriteLine("user mode: system call with rax " + DomainConsole.Hex(rax) + " from cs " + DomainConsole.Hex(cs)
                + (rip > UserMode.UserCodeAddress() && rip <= UserMode.UserCodeAddress() + 16 ? " right after the user code's syscall" : " at " + DomainConsole.Hex(rip)));
            DomainConsole.WriteLine("test domain: powering off");
        }

        private static void Report(string what, ulong result)
        {
            if (Probes.IsFault(result, out ulong vector))
            {
                string cr2 = vector == 14 ? " cr2 " + DomainConsole.Hex(SharedInfo.FaultAddress) : "";
                DomainConsole.WriteLine("trap: " + what + ": vector " + DomainConsole.Decimal((long)vector) + " error " + DomainConsole.Hex(s_lastError) + cr2);
            }
            else
            {
                DomainConsole.WriteLine("trap: " + what + ": no trap, result " + DomainConsole.Hex(result));
            }
        }

        private static void OnTrap(TrapFrame* frame)
        {
            s_lastError = frame->ErrorCode;
            if (!Probes.ReturnFromProbe(frame))
            {
                DomainConsole.WriteLine("trap outside a probe: vector " + DomainConsole.Decimal((long)frame->Vector) + " at " + DomainConsole.Hex(frame->Rip));
                Hypercall.Shutdown(ShutdownReason.Crash);
            }
        }
    }
}

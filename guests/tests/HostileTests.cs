using System;
using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// The hostile domain ("hostile=SEED:COUNT"). First the named attacks, one line each: reading kernel
    /// memory, mapping another domain's frame, mapping its own page table writable, writing the hypervisor's
    /// L4 slots, privileged instructions, the control domain's domctl. Then COUNT hypercalls with random
    /// numbers and hostile arguments (random words, small numbers, kernel and M2P addresses, non-canonical
    /// addresses, and a scratch buffer of random bytes, so pointers that are valid point at junk), and a
    /// count of every result. It leaves out only what would end or stop itself by its own rules (shutdown,
    /// block, poll, iret, fpu_taskswitch, remapping its own pages): the point is to show the kernel and the
    /// other domains unharmed, and the domain still running to report.
    /// </summary>
    internal static unsafe class HostileTests
    {
        private const int ScratchBytes = 64 * 1024;
        private static ulong s_state;

        internal static void Run(string arguments)
        {
            SharedInfo.Map();
            GuestTraps.Handler = OnTrap;
            byte* vectors = stackalloc byte[] { 0, 3, 6, 13, 14 };
            GuestTraps.Install(new ReadOnlySpan<byte>(vectors, 5), 0);
            ulong[] numbers = new ulong[2];
            if (Arguments.Numbers(arguments, numbers) != 2)
            {
                DomainConsole.WriteLine("hostile: expected SEED:COUNT, got \"" + arguments + "\"");
                return;
            }
            NamedAttacks();
            Fuzz(numbers[0], numbers[1]);
        }

        private static void NamedAttacks()
        {
            ulong spare = Memory.InitialMappingEnd - 2 * Memory.PageSize;
            StartInfo* info = DomainEntry.StartInfo;
            ulong l4 = Memory.MachineFrame((info->PtBase - DomainEntry.ImageBase) / Memory.PageSize);
            Line("read kernel memory", Probes.Read(0xFFFF82D080200000));
            Line("write kernel memory", Probes.Write(0xFFFF82D080200000));
            Line("read the direct map", Probes.Read(0xFFFF830000100000));
            ulong foreign = ForeignFrame();
            Line("map another domain's frame " + DomainConsole.Hex(foreign), (ulong)Memory.UpdateVaMapping(spare, (foreign << 12) | 0x63, UpdateVaFlags.Invlpg));
            Line("map its own L4 writable", (ulong)Memory.UpdateVaMapping(spare, (l4 << 12) | 0x63, UpdateVaFlags.Invlpg));
            Line("write L4 slot 261 (the kernel image)", (ulong)Memory.MmuUpdate((l4 << 12) + 261 * 8, (l4 << 12) | 0x63));
            Line("cli", Probes.Cli());
            Line("hlt", Probes.Hlt());
            Line("out", Probes.Out());
            Line("wrmsr", Probes.Wrmsr());
            Line("mov to cr3", Probes.WriteCr3(l4 << 12));
            ulong* gdtr = stackalloc ulong[2];
            Line("lgdt", Probes.Lgdt(gdtr));
            Line("domctl getdomaininfo", (ulong)Domctl.GetInfo(0, out _));
            Line("domctl destroy of the control domain", (ulong)Domctl.Destroy(0));
        }

        /// <summary>A machine frame the M2P says some domain uses, that is not in this domain's p2m.</summary>
        private static ulong ForeignFrame()
        {
            ulong pages = DomainEntry.StartInfo->NrPages;
            for (ulong mfn = 0x1000; mfn < 0x40000; mfn++)
            {
                ulong pfn = Memory.PhysicalFrame(mfn);
                if (pfn == ulong.MaxValue) continue;
                if (pfn >= pages || Memory.MachineFrame(pfn) != mfn) return mfn;
            }
            return 0x100;
        }

        private static void Line(string what, ulong result)
        {
            string outcome = Probes.IsFault(result, out ulong vector) ? "trap " + DomainConsole.Decimal((long)vector) : "error " + DomainConsole.Decimal((long)result);
            DomainConsole.WriteLine("hostile: " + what + ": " + outcome);
        }

        private static void Fuzz(ulong seed, ulong count)
        {
            s_state = seed == 0 ? 0x9E3779B97F4A7C15 : seed;
            byte[] scratch = new byte[ScratchBytes];
            long[] codes = new long[128];
            ulong[] counts = new ulong[128];
            int kinds = 0;
            fixed (byte* buffer = scratch)
            {
                for (ulong i = 0; i < count; i++)
                {
                    if ((i & 1023) == 0) for (int b = 0; b < ScratchBytes; b += 8) *(ulong*)(buffer + b) = Next();
                    // Successes that return a value (a count, a version, memory_op's start_extent) share one
                    // bucket, so the list names each kind of refusal.
                    long rc = OneCall(buffer);
                    if (rc > 0) rc = 1;
                    int k = 0;
                    while (k < kinds && codes[k] != rc) k++;
                    if (k == kinds && kinds < codes.Length) codes[kinds++] = rc;
                    if (k < kinds) counts[k]++;
                }
            }
            DomainConsole.WriteLine("hostile: " + DomainConsole.Decimal((long)count) + " random hypercalls with seed " + DomainConsole.Decimal((long)seed) + ", " + DomainConsole.Decimal(kinds) + " distinct results:");
            for (int k = 0; k < kinds; k++)
            {
                string code = codes[k] > 0 ? "positive" : DomainConsole.Decimal(codes[k]);
                DomainConsole.WriteLine("hostile: result " + code + ": " + DomainConsole.Decimal((long)counts[k]) + " calls");
            }
            DomainConsole.WriteLine("test domain: powering off");
        }

        private static long OneCall(byte* scratch)
        {
            ulong number = Next() % 40;
            ulong a1 = Argument(scratch), a2 = Argument(scratch), a3 = Argument(scratch), a4 = Argument(scratch), a5 = Argument(scratch);
            switch (number)
            {
                case (ulong)HypercallNumber.Iret:
                case (ulong)HypercallNumber.FpuTaskswitch:
                // A random event callback is a way to end itself at the next event upcall, not to harm anyone.
                case (ulong)HypercallNumber.SetCallbacks:
                case (ulong)HypercallNumber.CallbackOp:
                    number = (ulong)HypercallNumber.XenVersion;
                    break;
                case (ulong)HypercallNumber.SchedOp:
                    a1 = (ulong)SchedCommand.Yield;
                    break;
                case (ulong)HypercallNumber.ConsoleIo:
                    // Junk printed on the console would only bury the report: the buffer is always a
                    // non-canonical address, which the kernel must refuse without reading.
                    a3 = (a3 & 0x0000_7FFF_FFFF_FFFF) | 0x0000_8000_0000_0000;
                    break;
                case (ulong)HypercallNumber.UpdateVaMapping:
                    // Not its own pages: remapping them is a way to end itself, not to harm anyone.
                    if (a1 >= DomainEntry.ImageBase && a1 < Memory.InitialMappingEnd) a1 = Memory.InitialMappingEnd + (a1 & 0xFFFFF000);
                    break;
                case (ulong)HypercallNumber.GrantTableOp:
                    // Each operation's results are written back over it (as Xen does), so an array that runs past
                    // the scratch buffer would overwrite the domain's own stack: keep it inside.
                    if (a2 >= (ulong)scratch && a2 < (ulong)scratch + ScratchBytes) a3 %= 1 + ((ulong)scratch + ScratchBytes - a2) / 40;
                    break;
                case (ulong)HypercallNumber.Multicall:
                    // Entries it wrote itself could ask for its own shutdown, and the M2P's small numbers read as
                    // real calls (set_callbacks to a pfn ends it at the next event upcall); only junk or unmapped pointers.
                    if ((a1 >= (ulong)scratch && a1 < (ulong)scratch + ScratchBytes) || (a1 >= 0xFFFF800000000000 && a1 < 0xFFFF808000000000)) a1 ^= 1UL << 63;
                    break;
            }
            return Hypercall.Raw(number, a1, a2, a3, a4, a5);
        }

        /// <summary>One hostile argument: a random word, a small number, an address in the kernel or the M2P, a non-canonical address, or a pointer into the scratch buffer.</summary>
        private static ulong Argument(byte* scratch)
        {
            ulong r = Next();
            switch (r % 8)
            {
                case 0: return Next();
                case 1: return Next() % 64;
                case 2: return 0xFFFF82D080000000 + (Next() % 0x2000000);
                case 3: return 0xFFFF800000000000 + (Next() % 0x100000);
                case 4: return 0x0000800000000000 + (Next() % 0x100000);
                case 5: return 0;
                default: return (ulong)scratch + (Next() % (ScratchBytes - 64));
            }
        }

        // xorshift64*: a fixed sequence for a given seed, so a failure can be replayed.
        private static ulong Next()
        {
            s_state ^= s_state >> 12;
            s_state ^= s_state << 25;
            s_state ^= s_state >> 27;
            return s_state * 0x2545F4914F6CDD1D;
        }

        private static void OnTrap(TrapFrame* frame)
        {
            if (!Probes.ReturnFromProbe(frame))
            {
                DomainConsole.WriteLine("hostile: trap outside a probe: vector " + DomainConsole.Decimal((long)frame->Vector) + " at " + DomainConsole.Hex(frame->Rip));
                Hypercall.Shutdown(ShutdownReason.Crash);
            }
        }
    }
}

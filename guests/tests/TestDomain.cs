using System.Runtime;
using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// A domain for the system tests. Its command line says what to do:
    ///   hello        print what start_info and xen_version say, check hypercall errors, power off
    ///   traps        install its own trap table and show each kind of trap delivered and returned from
    ///   paging       change its own mappings through direct paging, and try what the rules refuse
    ///   time         read system and wall-clock time from shared_info, sleep, and wake from its timer
    ///   events       its own event channels: IPI, VIRQ_TIMER, poll, mask, and the refusals
    ///   spin=..., sleeper=...  scheduling measurements (SchedulingTests)
    ///   heartbeat=UNTIL  beat once a second until UNTIL ms of system time, checking its own memory each time
    ///   hostile=SEED:COUNT  attack the kernel and the other domains (HostileTests)
    ///   bench=T, bench-partner=T  micro-benchmarks in TSC cycles (BenchTests)
    ///   ping=PEER:COUNT, pong=PEER  COUNT checksummed messages over a ring in a granted page (PingPong)
    ///   hostile-talk=PING:PONG  attack the pair's grants, ports and store nodes while it talks (HostileTalk)
    ///   device=SBDF  what a domain given that PCI device may reach: configuration space, BARs, its line (DeviceProbe)
    ///   disk=MODE:MIB:SEED[:PASSES]  seeded data written and verified on xvda through blkfront (DiskWriter)
    ///   hostile-disk  a hand-made blkif front-end that breaks every rule while honest guests use blkback (HostileDisk)
    ///   blkbench     the Bench target's block workloads through blkback, with and without persistent grants (DiskBench)
    ///   hypercalls   memory_op, multicall, vm_assist, set_segment_base and fpu_taskswitch, hostile arguments
    ///                included; ends by shutting down from inside a multicall
    ///   fault=divide divide by zero; fault=page write to an unmapped address; fault=opcode run ud2;
    ///                fault=bounce trap with its stack pointer on an unmapped page
    /// Each line it prints is a fact a test checks.
    /// </summary>
    internal static unsafe class TestDomain
    {
        [RuntimeExport("keel_guest_main")]
        private static void Main()
        {
            string command = DomainEntry.CommandLine;
            DomainConsole.WriteLine("test domain: command line \"" + command + "\"");
            if (command == "hello") Hello();
            else if (command == "traps") TrapTests.Run();
            else if (command == "paging") PagingTests.Run();
            else if (command == "time") TimeTests.Run();
            else if (command == "events") EventTests.Run();
            else if (command.StartsWith("spin=")) SchedulingTests.Spin(command.Substring(5));
            else if (command.StartsWith("heartbeat=")) Heartbeat.Run(command.Substring(10));
            else if (command.StartsWith("hostile=")) HostileTests.Run(command.Substring(8));
            else if (command.StartsWith("bench=")) BenchTests.Run(command.Substring(6));
            else if (command.StartsWith("bench-partner=")) BenchTests.Partner(command.Substring(14));
            else if (command.StartsWith("sleeper=")) SchedulingTests.Sleeper(command.Substring(8));
            else if (command == "hypercalls") HypercallTests.Run();
            else if (command.StartsWith("ping=")) PingPong.Front(command.Substring(5));
            else if (command.StartsWith("pong=")) PingPong.Back(command.Substring(5));
            else if (command.StartsWith("hostile-talk=")) HostileTalk.Run(command.Substring(13));
            else if (command.StartsWith("device=")) DeviceProbe.Run(command.Substring(7));
            else if (command.StartsWith("disk=")) DiskWriter.Run(command.Substring(5));
            else if (command == "hostile-disk") HostileDisk.Run();
            else if (command == "blkbench") DiskBench.Run();
            else if (command.StartsWith("fault=")) Fault(command.Substring(6));
            else DomainConsole.WriteLine("test domain: unknown command");
        }

        private static void Hello()
        {
            StartInfo* info = DomainEntry.StartInfo;
            byte* magic = info->Magic;
            DomainConsole.WriteLine("start_info: magic " + DomainConsole.Ascii(magic, StartInfo.MagicBytes) + ", " + DomainConsole.Decimal((long)info->NrPages) + " pages, "
                + DomainConsole.Decimal((long)info->NrPtFrames) + " page-table frames, flags " + DomainConsole.Hex(info->Flags));
            long version = Hypercall.XenVersion(VersionCommand.Version, null);
            byte* extra = stackalloc byte[16];
            Hypercall.XenVersion(VersionCommand.ExtraVersion, extra);
            DomainConsole.WriteLine("xen_version: " + DomainConsole.Decimal(version >> 16) + "." + DomainConsole.Decimal(version & 0xFFFF) + DomainConsole.Ascii(extra, 16));
            // A pointer into the kernel, one into unmapped memory, and an unknown hypercall: each an error code.
            DomainConsole.WriteLine("console_io with a kernel pointer: " + DomainConsole.Decimal(Hypercall.ConsoleWrite((byte*)0xFFFF82D080200000, 8)));
            DomainConsole.WriteLine("console_io with an unmapped pointer: " + DomainConsole.Decimal(Hypercall.ConsoleWrite((byte*)0x1000, 8)));
            // The serial input is the control domain's alone (Xen's default XSM policy): -EPERM.
            DomainConsole.WriteLine("console_io read: " + DomainConsole.Decimal(Hypercall.ConsoleRead(extra, 16)));
            DomainConsole.WriteLine("hypercall 99: " + DomainConsole.Decimal(Hypercall.Raw(99)));
            DomainConsole.WriteLine("yield: " + DomainConsole.Decimal(Hypercall.Yield()));
            // The console ring, as a Xen guest's own console: the control domain's back-end prints it.
            ConsoleRing.Connect();
            ConsoleRing.Write("through the console ring\n"u8);
            DomainConsole.WriteLine("test domain: powering off");
        }

        private static void Fault(string kind)
        {
            DomainConsole.WriteLine("test domain: faulting on purpose (" + kind + ")");
            if (kind == "divide")
            {
                int zero = DomainConsole.Decimal(0).Length - 1;
                DomainConsole.WriteLine(DomainConsole.Decimal(1000 / zero));
            }
            else if (kind == "page")
            {
                *(ulong*)0x1000 = 1;
            }
            else if (kind == "opcode")
            {
                Probes.Ud2();
            }
            else if (kind == "bounce")
            {
                // A handler exists, but its frame cannot be written below an unmapped stack pointer.
                GuestTraps.Handler = frame => { };
                byte* vectors = stackalloc byte[] { 6 };
                GuestTraps.Install(new System.ReadOnlySpan<byte>(vectors, 1), 0);
                Probes.TrapOnUnmappedStack();
            }
            DomainConsole.WriteLine("test domain: still running after the fault");
        }
    }
}

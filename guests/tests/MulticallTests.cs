using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// multicall: results written back entry by entry, calls refused inside (a nested multicall) or unknown,
    /// a yield inside, a block inside (the rest runs once a timer wakes the vCPU), lists the kernel cannot read, an iret inside (XSA-213: it ends the list with its own
    /// result), a list longer than one kernel entry carries out, and last a shutdown inside, after which no
    /// entry may run.
    /// </summary>
    internal static unsafe class MulticallTests
    {
        private const long XenVersion = (4 << 16) | 17;
        private const long Untouched = 0x5A5A;

        internal static void Run()
        {
            Mixed();
            Blocking();
            Unreadable();
            Iret();
            Long();
        }

        /// <summary>A block inside a multicall: the entries after it run once the vCPU's timer has woken it.</summary>
        private static void Blocking()
        {
            const ulong Millisecond = 1_000_000;
            MulticallEntry* e = stackalloc MulticallEntry[3];
            ulong before = Clock.Now;
            e[0] = Entry(HypercallNumber.SetTimerOp, before + 30 * Millisecond);
            e[1] = Entry(HypercallNumber.SchedOp, (ulong)SchedCommand.Block);
            e[2] = Entry(HypercallNumber.XenVersion, (ulong)VersionCommand.Version);
            e[2].Result = Untouched;
            long rc = Hypercall.Multicall(e, 3);
            ulong waited = Clock.Now - before;
            Line("multicall of set_timer_op, block and xen_version", rc, Results(e, 3) + (waited >= 30 * Millisecond ? ", after at least 30 ms" : ", after only " + DomainConsole.Decimal((long)waited) + " ns"));
        }

        private static void Mixed()
        {
            MulticallEntry* e = stackalloc MulticallEntry[4];
            byte* text = stackalloc byte[] { (byte)'m', (byte)'c', (byte)'\n' };
            e[0] = Entry(HypercallNumber.ConsoleIo, (ulong)ConsoleCommand.Write, 3, (ulong)text);
            e[1] = Entry(HypercallNumber.XenVersion, (ulong)VersionCommand.Version);
            e[2] = Entry((HypercallNumber)99);
            e[3] = Entry(HypercallNumber.Multicall, (ulong)e, 1);
            long rc = Hypercall.Multicall(e, 4);
            Line("multicall of console_io, xen_version, hypercall 99 and a nested multicall", rc, Results(e, 4));
            e[0] = Entry(HypercallNumber.SchedOp, (ulong)SchedCommand.Yield);
            e[1] = Entry(HypercallNumber.XenVersion, (ulong)VersionCommand.Version);
            Line("multicall of a yield and xen_version", Hypercall.Multicall(e, 2), Results(e, 2));
        }

        private static void Unreadable()
        {
            Line("multicall of a kernel pointer", Hypercall.Multicall((MulticallEntry*)HypercallTests.KernelAddress, 1));
            Line("multicall of an unmapped pointer", Hypercall.Multicall((MulticallEntry*)0x1000, 1));
            Line("multicall of a list in the M2P", Hypercall.Multicall((MulticallEntry*)HypercallTests.MachineToPhysicalAddress, 1));
            Line("multicall of more entries than fit the address space", Hypercall.Multicall((MulticallEntry*)0x1000, ulong.MaxValue / 64));
            // The last entry of the initial mapping, then one past it, which is unmapped.
            var last = (MulticallEntry*)(Memory.InitialMappingEnd - 64);
            *last = Entry(HypercallNumber.XenVersion, (ulong)VersionCommand.Version);
            Line("multicall whose second entry is unmapped", Hypercall.Multicall(last, 2), "first result " + DomainConsole.Decimal(last->Result));
        }

        /// <summary>The iret frame returns to the stub's own return address with RAX 0x1AE7.</summary>
        private static void Iret()
        {
            MulticallEntry* e = stackalloc MulticallEntry[3];
            e[0] = Entry(HypercallNumber.XenVersion, (ulong)VersionCommand.Version);
            e[1] = Entry(HypercallNumber.Iret);
            e[2] = Entry(HypercallNumber.XenVersion, (ulong)VersionCommand.Version);
            e[1].Result = Untouched;
            e[2].Result = Untouched;
            long rc = Probes.MulticallWithIretFrame(e, 3, 0x1AE7);
            Line("multicall of xen_version, iret and xen_version", rc,
                "results " + DomainConsole.Decimal(e[0].Result) + " " + DomainConsole.Decimal(e[1].Result) + (e[2].Result == Untouched ? ", the entry after the iret untouched" : ", the entry after the iret ran"));
        }

        /// <summary>Longer than one visit (MulticallRules.EntriesPerVisit): the rest runs through continuations.</summary>
        private static void Long()
        {
            const int Count = 150;
            var e = new MulticallEntry[Count];
            for (int i = 0; i < Count; i++) e[i] = Entry(HypercallNumber.XenVersion, (ulong)VersionCommand.Version);
            long rc;
            fixed (MulticallEntry* list = e) rc = Hypercall.Multicall(list, Count);
            int right = 0;
            for (int i = 0; i < Count; i++) if (e[i].Result == XenVersion) right++;
            Line("multicall of 150 xen_version entries", rc, DomainConsole.Decimal(right) + " results right");
        }

        /// <summary>Ends the domain: the console line before the shutdown appears, the one after must not.</summary>
        internal static void ShutdownInside()
        {
            DomainConsole.WriteLine("hypercalls: shutting down from inside a multicall");
            MulticallEntry* e = stackalloc MulticallEntry[3];
            byte* before = stackalloc byte[] { (byte)'b', (byte)'e', (byte)'f', (byte)'o', (byte)'r', (byte)'e', (byte)'\n' };
            byte* after = stackalloc byte[] { (byte)'a', (byte)'f', (byte)'t', (byte)'e', (byte)'r', (byte)'\n' };
            uint reason = (uint)ShutdownReason.Poweroff;
            e[0] = Entry(HypercallNumber.ConsoleIo, (ulong)ConsoleCommand.Write, 7, (ulong)before);
            e[1] = Entry(HypercallNumber.SchedOp, (ulong)SchedCommand.Shutdown, (ulong)&reason);
            e[2] = Entry(HypercallNumber.ConsoleIo, (ulong)ConsoleCommand.Write, 6, (ulong)after);
            Line("multicall returned after a shutdown", Hypercall.Multicall(e, 3));
        }

        private static MulticallEntry Entry(HypercallNumber op, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0) =>
            new MulticallEntry { Op = (ulong)op, Arg1 = a1, Arg2 = a2, Arg3 = a3 };

        private static string Results(MulticallEntry* e, int count)
        {
            string text = "results";
            for (int i = 0; i < count; i++) text += " " + DomainConsole.Decimal(e[i].Result);
            return text;
        }

        private static void Line(string what, long result, string note = "") => HypercallTests.Line(what, result, note);
    }
}

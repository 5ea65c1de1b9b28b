using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// The "hypercalls" test: memory_op, multicall, vm_assist, set_segment_base and fpu_taskswitch, each with
    /// what a hostile guest might pass, one line per check ("hypercalls: what: result (note)"). It ends by
    /// shutting itself down from inside a multicall, whose later entries must never run.
    /// </summary>
    internal static unsafe class HypercallTests
    {
        internal const ulong KernelAddress = 0xFFFF82D080200000, MachineToPhysicalAddress = 0xFFFF800000000000;
        private const ulong NonCanonical = 0x0000800000000000;

        private static ulong s_fsTarget = 0xF5F5_0001, s_gsKernelTarget = 0x6565_0002, s_gsUserTarget = 0x6575_0003;

        internal static void Run()
        {
            GuestTraps.Handler = OnTrap;
            byte* vectors = stackalloc byte[] { 6, 7, 13, 14 };
            GuestTraps.Install(new System.ReadOnlySpan<byte>(vectors, 4), 0);
            Line("shared_info mapped", SharedInfo.Map());
            MemoryOpTests.Run();
            MulticallTests.Run();
            VmAssistTests();
            SegmentBaseTests();
            FpuTests();
            MulticallTests.ShutdownInside();
        }

        internal static void Line(string what, long result, string note = "")
        {
            DomainConsole.WriteLine("hypercalls: " + what + ": " + DomainConsole.Decimal(result) + (note.Length > 0 ? " (" + note + ")" : ""));
        }

        /// <summary>A check with no hypercall result of its own.</summary>
        private static void Fact(string what, string observed) => DomainConsole.WriteLine("hypercalls: " + what + ": " + observed);

        private static void VmAssistTests()
        {
            Line("vm_assist enable writable_pagetables", Hypercall.VmAssist(VmAssistCommand.Enable, (uint)VmAssistType.WritablePagetables));
            Line("vm_assist disable writable_pagetables", Hypercall.VmAssist(VmAssistCommand.Disable, (uint)VmAssistType.WritablePagetables));
            Line("vm_assist enable m2p_strict", Hypercall.VmAssist(VmAssistCommand.Enable, (uint)VmAssistType.M2pStrict));
            Line("vm_assist enable type 6", Hypercall.VmAssist(VmAssistCommand.Enable, 6));
            Line("vm_assist enable type 31", Hypercall.VmAssist(VmAssistCommand.Enable, 31));
            Line("vm_assist enable type 64", Hypercall.VmAssist(VmAssistCommand.Enable, 64));
            Line("vm_assist command 2", Hypercall.VmAssist(2, (uint)VmAssistType.WritablePagetables));
        }

        private static void SegmentBaseTests()
        {
            long rc = Hypercall.SetSegmentBase(SegmentBaseRegister.Fs, Address(ref s_fsTarget));
            Line("set_segment_base FS", rc, Reads("fs:0", Probes.ReadFs0(), s_fsTarget));
            rc = Hypercall.SetSegmentBase(SegmentBaseRegister.GsKernel, Address(ref s_gsKernelTarget));
            Line("set_segment_base GS kernel", rc, Reads("gs:0", Probes.ReadGs0(), s_gsKernelTarget));
            rc = Hypercall.SetSegmentBase(SegmentBaseRegister.GsUser, Address(ref s_gsUserTarget));
            Line("set_segment_base GS user", rc, Reads("gs:0 in kernel mode", Probes.ReadGs0(), s_gsKernelTarget));
            Fact("in guest user mode", Reads("gs:0", UserMode.ReadGsInUserMode(), s_gsUserTarget));
            Fact("back in guest kernel mode", Reads("gs:0", Probes.ReadGs0(), s_gsKernelTarget) + ", " + Reads("fs:0", Probes.ReadFs0(), s_fsTarget));
            // The control domain wakes every 50 ms: it runs meanwhile, with bases of its own, and the
            // kernel switches them out and back in.
            Clock.SleepUntil(Clock.Now + 120_000_000);
            Fact("after sleeping 120 ms", Reads("fs:0", Probes.ReadFs0(), s_fsTarget) + ", " + Reads("gs:0", Probes.ReadGs0(), s_gsKernelTarget)
                + ", in user mode " + Reads("gs:0", UserMode.ReadGsInUserMode(), s_gsUserTarget));
            // A base the guest changes itself, by loading a selector, is the one kept across the switches.
            Probes.LoadFs(FlatSelectors.Data);
            Clock.SleepUntil(Clock.Now + 120_000_000);
            Report("after loading FS itself and sleeping, fs:0", Probes.ReadFs0());
            Line("set_segment_base FS non-canonical", Hypercall.SetSegmentBase(SegmentBaseRegister.Fs, NonCanonical));
            Line("set_segment_base GS user non-canonical", Hypercall.SetSegmentBase(SegmentBaseRegister.GsUser, NonCanonical));
            Line("set_segment_base GS kernel non-canonical", Hypercall.SetSegmentBase(SegmentBaseRegister.GsKernel, NonCanonical));
            Line("set_segment_base register 4", Hypercall.SetSegmentBase((SegmentBaseRegister)4, 0));
            UserSelector(0xE02B);
            UserSelector(0xE028);
            UserSelector(0xE008);
            UserSelector(0);
            Hypercall.SetSegmentBase(SegmentBaseRegister.Fs, 0);
            Hypercall.SetSegmentBase(SegmentBaseRegister.GsKernel, 0);
        }

        private static void UserSelector(ushort selector)
        {
            long rc = Hypercall.SetSegmentBase(SegmentBaseRegister.GsUserSelector, selector);
            Line("set_segment_base GS user selector " + DomainConsole.Hex(selector), rc,
                "gs " + DomainConsole.Hex(Probes.ReadGsSelector()) + ", " + Reads("gs:0", Probes.ReadGs0(), s_gsKernelTarget));
        }

        private static string Reads(string where, ulong value, ulong expected) =>
            where + (value == expected ? " reads the variable" : " reads " + DomainConsole.Hex(value));

        private static ulong Address(ref ulong variable)
        {
            fixed (ulong* at = &variable) return (ulong)at;
        }

        /// <summary>
        /// fpu_taskswitch: with TS set (and timer interrupts taken meanwhile) the next SSE instruction raises
        /// #NM, after which TS is clear again; set then cleared, nothing happens.
        /// </summary>
        private static void FpuTests()
        {
            Report("fpu_taskswitch(1) then SSE", Probes.TaskswitchThenSse(0, 20_000_000));
            Report("SSE after the #NM", Probes.Sse());
            Report("fpu_taskswitch(1), fpu_taskswitch(0) then SSE", Probes.TaskswitchThenSse(1, 1));
        }

        private static void Report(string what, ulong result) =>
            Fact(what, Probes.IsFault(result, out ulong vector) ? "vector " + DomainConsole.Decimal((long)vector) : "no trap");

        private static void OnTrap(TrapFrame* frame)
        {
            if (!Probes.ReturnFromProbe(frame))
            {
                DomainConsole.WriteLine("trap outside a probe: vector " + DomainConsole.Decimal((long)frame->Vector) + " at " + DomainConsole.Hex(frame->Rip));
                Hypercall.Shutdown(ShutdownReason.Crash);
            }
        }
    }
}

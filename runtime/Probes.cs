using System.Runtime;
using System.Runtime.CompilerServices;

namespace Keel.Runtime
{
    /// <summary>
    /// Single instructions and accesses a test domain tries, to show the kernel refuses them (image/
    /// DomainStubs.cs). A probe that faults is made to return Faulted(vector) by the domain's trap handler
    /// (ReturnFromProbe), so one domain can try many.
    /// </summary>
    public static unsafe class Probes
    {
        private const ulong FaultMarker = 0xFA17_0000_0000_0000;

        [RuntimeImport("keel_probe_read"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong Read(ulong address);
        [RuntimeImport("keel_probe_write"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong Write(ulong address);
        [RuntimeImport("keel_probe_cli"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong Cli();
        [RuntimeImport("keel_probe_hlt"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong Hlt();
        [RuntimeImport("keel_probe_out"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong Out();
        [RuntimeImport("keel_probe_wrmsr"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong Wrmsr();
        [RuntimeImport("keel_probe_write_cr3"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong WriteCr3(ulong value);
        [RuntimeImport("keel_probe_lgdt"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong Lgdt(void* pointer);
        [RuntimeImport("keel_probe_read_cr3"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong ReadCr3();
        [RuntimeImport("keel_probe_int3"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong Int3();
        [RuntimeImport("keel_probe_int80"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong Int80();
        [RuntimeImport("keel_probe_ud2"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong Ud2();
        [RuntimeImport("keel_probe_divide"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong DivideByZero();
        [RuntimeImport("keel_probe_bad_stack"), MethodImpl(MethodImplOptions.InternalCall)] public static extern void TrapOnUnmappedStack();
        [RuntimeImport("keel_nop"), MethodImpl(MethodImplOptions.InternalCall)] public static extern void Nothing();
        [RuntimeImport("keel_probe_sse"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong Sse();
        [RuntimeImport("keel_probe_read_fs0"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong ReadFs0();
        [RuntimeImport("keel_probe_read_gs0"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong ReadGs0();
        [RuntimeImport("keel_probe_read_gs_selector"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong ReadGsSelector();

        /// <summary>MOV to FS: in 64-bit mode that also sets the FS base, to the descriptor's (0 for the flat selectors).</summary>
        [RuntimeImport("keel_probe_load_fs"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong LoadFs(ushort selector);

        /// <summary>fpu_taskswitch(1), and fpu_taskswitch(0) too if clearAgain, a spin of spins (at least 1) iterations, then one SSE instruction.</summary>
        [RuntimeImport("keel_probe_taskswitch"), MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong TaskswitchThenSse(ulong clearAgain, ulong spins);
        [RuntimeImport("keel_forced_cpuid"), MethodImpl(MethodImplOptions.InternalCall)] public static extern void ForcedCpuid(uint leaf, uint* result);

        /// <summary>
        /// multicall(list, count) issued with an iret_context at RSP that returns in guest kernel mode to this
        /// call's own return, with RAX = iretRax: what an iret entry in the list does. Without one, the result
        /// is multicall's.
        /// </summary>
        [RuntimeImport("keel_multicall_iret"), MethodImpl(MethodImplOptions.InternalCall)] public static extern long MulticallWithIretFrame(void* list, ulong count, ulong iretRax);

        [RuntimeImport("keel_probes_start_address"), MethodImpl(MethodImplOptions.InternalCall)] private static extern ulong Start();
        [RuntimeImport("keel_probes_end_address"), MethodImpl(MethodImplOptions.InternalCall)] private static extern ulong End();

        public static ulong Faulted(ulong vector) => FaultMarker | vector;

        public static bool IsFault(ulong result, out ulong vector)
        {
            vector = result & 0xFFFF;
            return (result & 0xFFFF_0000_0000_0000) == FaultMarker;
        }

        /// <summary>
        /// If the trap came from inside a probe, makes the probe return Faulted(vector) to its caller (RIP
        /// from the return address on the stack, as a `ret` would) and says so; otherwise leaves the frame.
        /// </summary>
        public static bool ReturnFromProbe(TrapFrame* frame)
        {
            if (frame->Rip < Start() || frame->Rip >= End()) return false;
            frame->Rip = *(ulong*)frame->Rsp;
            frame->Rsp += 8;
            frame->Rax = Faulted(frame->Vector);
            return true;
        }
    }
}

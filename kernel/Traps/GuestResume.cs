using System.Runtime;
using Keel.Kernel.Arch.X64;
using Keel.Kernel.Objects;
using Keel.Kernel.Scheduling;

namespace Keel.Kernel.Traps
{
    /// <summary>
    /// The last step of every kernel entry, after the scheduler has chosen the frame to resume: the entry
    /// stub (image/RuntimeStubs.cs) calls keel_interrupt_exit before it restores that frame. What a vCPU's
    /// frame and FXSAVE area do not carry is made the resumed vCPU's here: its FS and GS, and its
    /// virtual CR0.TS, which only the stub can set, after FXRSTOR (set any earlier, it would make FXRSTOR and
    /// the kernel's own SSE code fault). Needs nothing from the scheduler but Current, so a switch of vCPUs
    /// and a return to the same one are handled alike.
    /// </summary>
    internal static unsafe class GuestResume
    {
        [RuntimeExport("keel_interrupt_exit")]
        private static ulong BeforeResume(InterruptFrame* frame)
        {
            Vcpu vcpu = Scheduler.Current;
            if (vcpu == null || !GuestContext.IsFromGuest(frame)) return 0;
            SegmentBases.Resume(vcpu);
            return vcpu.TaskSwitched ? ExitActions.SetTaskSwitched : 0;
        }
    }
}

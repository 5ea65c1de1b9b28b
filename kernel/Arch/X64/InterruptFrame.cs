using System.Runtime.InteropServices;

namespace Keel.Kernel.Arch.X64
{
    /// <summary>
    /// The stack frame the interrupt entry stubs build (image/RuntimeStubs.cs): general registers in the
    /// reverse order of their pushes, the vector and error code the stub pushed, then the frame the CPU
    /// pushed (Intel SDM vol. 3A, 6.14.1).
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct InterruptFrame
    {
        internal ulong R15, R14, R13, R12, R11, R10, R9, R8, Rbp, Rdi, Rsi, Rdx, Rcx, Rbx, Rax;
        internal ulong Vector, ErrorCode;
        internal ulong Rip, Cs, Rflags, Rsp, Ss;
    }

    /// <summary>The frame's vector for entries that are not interrupts (image/RuntimeStubs.cs, SyscallVector).</summary>
    internal static class RuntimeVectors
    {
        internal const ulong Syscall64 = 0x100, Syscall32 = 0x101;
    }

    /// <summary>
    /// What the entry stubs do on the way out besides restoring the frame (image/RuntimeStubs.cs): the
    /// managed keel_interrupt_exit returns these bits once the frame to resume is final.
    /// </summary>
    internal static class ExitActions
    {
        /// <summary>Set CR0.TS after restoring the FPU state, so the guest's next x87/SSE instruction raises
        /// #NM (Intel SDM vol. 3A, 2.5). The stubs clear TS again first thing on every entry, before FXSAVE.</summary>
        internal const ulong SetTaskSwitched = 1;
    }
}

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
}

using System;
using System.Runtime.InteropServices;

namespace Keel.Kernel.Arch.X64
{
    /// <summary>
    /// A vCPU's saved machine state while it is not running: the frame the entry stubs build (general
    /// registers and the IRETQ frame) and the FXSAVE image of its x87/SSE state (Intel SDM vol. 1, 10.5.1).
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct GuestContext
    {
        internal InterruptFrame Frame;
        internal fixed byte FpuState[FpuStateBytes];

        private const int FpuStateBytes = 512;

        // RFLAGS a guest always runs with: IF (the guest's own interrupt flag is virtual, its event mask)
        // and the reserved bit 1 (SDM 1, 3.4.3).
        internal const ulong GuestFlags = 0x202;

        /// <summary>The state a new vCPU starts in: Xen's PV64 entry (flat ring-3 selectors, interrupts on in
        /// the real RFLAGS) with the FPU as after FNINIT and MXCSR's reset value (SDM 1, 8.1.5 and 10.2.3).</summary>
        internal static void InitialiseForGuest(GuestContext* context, ulong rip, ulong rsp, ulong rsi)
        {
            *context = default;
            context->Frame.Rip = rip;
            context->Frame.Rsp = rsp;
            context->Frame.Rsi = rsi;
            context->Frame.Cs = DescriptorTables.GuestCode64;
            context->Frame.Ss = DescriptorTables.GuestData;
            context->Frame.Rflags = GuestFlags;
            ResetFpu(context);
        }

        /// <summary>The idle loop's state: ring 0 on the kernel stack, halting with interrupts on.</summary>
        internal static void InitialiseForIdle(GuestContext* context, ulong kernelStackTop)
        {
            *context = default;
            context->Frame.Rip = Native.IdleLoopAddress();
            context->Frame.Rsp = kernelStackTop;
            context->Frame.Cs = DescriptorTables.KernelCode;
            context->Frame.Ss = DescriptorTables.KernelData;
            context->Frame.Rflags = GuestFlags;
            ResetFpu(context);
        }

        /// <summary>FXSAVE image of the FPU after FNINIT (FCW 0x037F) with MXCSR's reset value 0x1F80.</summary>
        private static void ResetFpu(GuestContext* context)
        {
            *(ushort*)context->FpuState = 0x037F;
            *(uint*)(context->FpuState + 24) = 0x1F80;
        }

        /// <summary>
        /// Copies the live state (the frame on the kernel stack and the FXSAVE area the stub put just below it)
        /// into the context. Sound because every entry stub lays out exactly that: 512 bytes of FXSAVE, then
        /// the frame (image/RuntimeStubs.cs).
        /// </summary>
        internal static void Save(InterruptFrame* live, GuestContext* into)
        {
            into->Frame = *live;
            new ReadOnlySpan<byte>((byte*)live - FpuStateBytes, FpuStateBytes).CopyTo(new Span<byte>(into->FpuState, FpuStateBytes));
        }

        /// <summary>Makes the live frame and FXSAVE area the context's, so the stub's exit path resumes it.</summary>
        internal static void Restore(GuestContext* from, InterruptFrame* live)
        {
            *live = from->Frame;
            new ReadOnlySpan<byte>(from->FpuState, FpuStateBytes).CopyTo(new Span<byte>((byte*)live - FpuStateBytes, FpuStateBytes));
        }

        /// <summary>Whether the frame was taken from a guest (ring 3) rather than from the kernel or its idle loop.</summary>
        internal static bool IsFromGuest(InterruptFrame* frame) => (frame->Cs & 3) == 3;
    }
}

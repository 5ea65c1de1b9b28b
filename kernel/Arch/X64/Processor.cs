namespace Keel.Kernel.Arch.X64
{
    /// <summary>Identification of the processor (CPUID, Intel SDM vol. 2A), its interrupt flag, and waiting.</summary>
    internal static unsafe class Processor
    {
        internal struct CpuidResult
        {
            internal uint Eax, Ebx, Ecx, Edx;
        }

        internal static CpuidResult Cpuid(uint leaf, uint subleaf)
        {
            CpuidResult result;
            Native.Cpuid(leaf, subleaf, (uint*)&result);
            return result;
        }

        /// <summary>PAUSE: tells the processor the caller is spinning on a device or a flag.</summary>
        internal static void Pause() => Native.Pause();

        /// <summary>Enables interrupts and halts until one arrives (STI; HLT, so none is lost in between).</summary>
        internal static void WaitForInterrupt() => Native.WaitForInterrupt();

        internal static void DisableInterrupts() => Native.DisableInterrupts();

        internal static void EnableInterrupts() => Native.EnableInterrupts();

        /// <summary>Abandons the current stack for the idle loop, which halts with interrupts on; never returns.</summary>
        internal static void EnterIdle(ulong stackTop) => Native.EnterIdle(stackTop);
    }
}

namespace Keel.Kernel.Arch.X64
{
    /// <summary>Identification of the processor (CPUID, Intel SDM vol. 2A).</summary>
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
    }
}

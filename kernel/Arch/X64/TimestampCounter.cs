namespace Keel.Kernel.Arch.X64
{
    /// <summary>The time-stamp counter (RDTSC, Intel SDM vol. 2B): cycles since reset, at a constant rate on current processors.</summary>
    internal static class TimestampCounter
    {
        internal static ulong Read() => Native.ReadTimestampCounter();
    }
}

namespace Keel.Kernel.Arch.X64
{
    /// <summary>
    /// FS and GS: the selectors and the bases a 64-bit guest addresses through fs: and gs: (IA32_FS_BASE and
    /// IA32_GS_BASE, Intel SDM vol. 4, table 2-2; AMD APM vol. 2, 4.5.3). The kernel itself uses neither
    /// segment, so whatever they hold while it runs is the guest's. KERNEL_GS_BASE is not here: it holds the
    /// kernel's per-CPU area for the SYSCALL entry's SWAPGS (Syscall.Enable) and never a guest value.
    /// WRMSR faults on a non-canonical base: callers pass only canonical ones.
    /// </summary>
    internal static class SegmentRegisters
    {
        private const uint FsBaseMsr = 0xC0000100, GsBaseMsr = 0xC0000101;

        internal static ulong FsBase
        {
            get => Native.ReadMsr(FsBaseMsr);
            set => Native.WriteMsr(FsBaseMsr, value);
        }

        internal static ulong GsBase
        {
            get => Native.ReadMsr(GsBaseMsr);
            set => Native.WriteMsr(GsBaseMsr, value);
        }

        /// <summary>
        /// MOV to FS or GS: the selector and, from its descriptor, a new base (a null selector may leave the
        /// base as it was, on AMD processors), so a caller that wants a base of its own writes it after. Faults
        /// unless the selector is null or names a data or readable code segment its RPL may use: callers pass
        /// only such selectors (ones a guest loaded itself in ring 3, or ones checked to be so).
        /// </summary>
        internal static ushort FsSelector
        {
            get => Native.ReadFs();
            set => Native.LoadFs(value);
        }

        internal static ushort GsSelector
        {
            get => Native.ReadGs();
            set => Native.LoadGs(value);
        }
    }
}

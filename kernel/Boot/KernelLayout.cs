namespace Keel.Kernel.Boot
{
    /// <summary>
    /// The boot link table the linker fills at the start of the boot region (image/Layout.cs,
    /// BootLinkTable: the same fields in the same order, which a host test checks). Addresses are kernel
    /// virtual addresses except where a name says physical.
    /// </summary>
    public struct KernelLayout
    {
        internal ulong Main;
        internal ulong StackTop;
        internal ulong TextStart, TextEnd;
        internal ulong RodataStart, RodataEnd;
        internal ulong DataStart, DataEnd;
        internal ulong BssStart, ImageEnd;
        internal ulong HeapStart, HeapEnd;
        internal ulong ModulesStart, ModulesEnd;
        internal ulong StackGuard, StackBottom;
        internal ulong IstBottom, IstTop;

        /// <summary>The boot region starts at 1 MiB; the kernel image's physical end follows from its virtual end.</summary>
        internal const ulong BootRegionPhysical = 0x100000;

        /// <summary>Where the image runs and where all memory is mapped: image/Layout.cs's values, which a host test compares.</summary>
        public const ulong KernelVirtualOffset = 0xFFFF82D080000000;
        public const ulong DirectMapOffset = 0xFFFF830000000000;
        public const ulong GuestMachineToPhysical = 0xFFFF800000000000;

        /// <summary>Bytes between consecutive interrupt entry stubs (the image tool's RuntimeStubs.InterruptStubStride).</summary>
        public const int InterruptStubStride = 16;

        internal readonly ulong ImageEndPhysical => ImageEnd - KernelVirtualOffset;

        internal static ulong ToPhysical(ulong kernelVirtual) => kernelVirtual - KernelVirtualOffset;
    }
}

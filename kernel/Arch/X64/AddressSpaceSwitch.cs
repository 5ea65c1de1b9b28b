namespace Keel.Kernel.Arch.X64
{
    /// <summary>Which page tables the CPU walks (CR3, Intel SDM vol. 3A, 4.5).</summary>
    internal static class AddressSpaceSwitch
    {
        /// <summary>Loads the top-level table; a no-op when it is already current, since a reload flushes the TLB.</summary>
        internal static void Load(ulong rootPhysical)
        {
            if (Native.ReadCr3() != rootPhysical) Native.WriteCr3(rootPhysical);
        }

        /// <summary>Loads the table even if it is current: the load is the flush (with CR4.PGE clear, of every translation).</summary>
        internal static void Reload(ulong rootPhysical) => Native.WriteCr3(rootPhysical);

        internal static void InvalidatePage(ulong address) => Native.InvalidatePage(address);

        /// <summary>WBINVD: every cache line written back to memory and dropped (SDM vol. 2D), what MMUEXT_FLUSH_CACHE asks.</summary>
        internal static void WriteBackCaches() => Native.WriteBackAndInvalidateCaches();

        internal static ulong FaultAddress => Native.ReadCr2();

        internal static ulong Current => Native.ReadCr3();
    }
}

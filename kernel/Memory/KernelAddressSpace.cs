using Keel.Kernel.Arch.X64;
using Keel.Kernel.Boot;

namespace Keel.Kernel.Memory
{
    /// <summary>
    /// Builds the kernel's own page tables and switches to them, replacing the boot stub's temporary ones:
    /// the image's text read-only and executable, read-only data read-only and non-executable, data and
    /// bss writable and non-executable (W^X), the stack guard page left unmapped, all physical memory
    /// (and at least the first 4 GiB, where the local and I/O APICs live) in the direct map, writable and
    /// non-executable, and nothing at all in the lower half: a null or user pointer dereference faults.
    /// </summary>
    internal static class KernelAddressSpace
    {
        internal static AddressSpace<DirectMap> Current { get; private set; }

        internal static bool TryBuildAndSwitch(FrameAllocator frames, in KernelLayout layout, ulong physicalLimit, ulong apicPhysical, ulong ioApicPhysical)
        {
            if (!AddressSpace<DirectMap>.TryCreate(frames, default, out var space)) return false;

            const PageFlags Data = PageFlags.Writable | PageFlags.NoExecute | PageFlags.Global;
            if (!MapRange(space, layout.TextStart, layout.TextEnd, PageFlags.Global)) return false;
            if (!MapRange(space, layout.RodataStart, layout.RodataEnd, PageFlags.NoExecute | PageFlags.Global)) return false;
            if (!MapRange(space, layout.DataStart, layout.StackGuard, Data)) return false;
            if (!MapRange(space, layout.StackBottom, layout.ImageEnd, Data)) return false;

            // The APICs' 2 MiB pages are mapped uncached (PCD and PWT select UC with the default PAT, SDM 3A
            // 12.12.3); everything else write-back.
            ulong apicLarge = apicPhysical & ~(AddressSpace<DirectMap>.LargePageSize - 1);
            ulong ioApicLarge = ioApicPhysical & ~(AddressSpace<DirectMap>.LargePageSize - 1);
            ulong limit = physicalLimit > 0x1_0000_0000 ? physicalLimit : 0x1_0000_0000;
            for (ulong p = 0; p < limit; p += AddressSpace<DirectMap>.LargePageSize)
            {
                PageFlags flags = Data;
                if (p == apicLarge || p == ioApicLarge) flags |= PageFlags.CacheDisable | PageFlags.WriteThrough;
                if (space.MapLarge(DirectMap.Offset + p, p, flags) != MapResult.Mapped) return false;
            }

            AddressSpaceSwitch.Reload(space.Root);
            Current = space;
            return true;
        }

        private static bool MapRange(AddressSpace<DirectMap> space, ulong start, ulong end, PageFlags flags)
        {
            for (ulong v = start; v < end; v += AddressSpace<DirectMap>.PageSize)
            {
                if (space.Map(v, KernelLayout.ToPhysical(v), flags) != MapResult.Mapped) return false;
            }
            return true;
        }
    }
}

using System;

namespace Keel.Kernel.Memory
{
    /// <summary>
    /// Physical memory seen through the kernel's direct map: physical address p is at virtual
    /// Offset + p. The boot stub maps the first 4 GiB there; the kernel's own tables map all of RAM.
    /// </summary>
    internal struct DirectMap : IPhysicalMemory
    {
        internal const ulong Offset = Boot.KernelLayout.DirectMapOffset;

        internal static unsafe byte* Pointer(ulong physicalAddress) => (byte*)(Offset + physicalAddress);

        // Sound while the table page lies in the direct map's range, which holds for every frame the frame
        // allocator hands out (it only covers RAM the direct map covers).
        public unsafe Span<ulong> Table(ulong physicalAddress) => new Span<ulong>(Pointer(physicalAddress), 512);
    }
}

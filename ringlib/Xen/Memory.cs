using System.Runtime.InteropServices;

namespace Keel.Ringlib.Xen
{
    /// <summary>
    /// memory_op commands (xen/include/public/memory.h, XENMEM_*). memory_op's first argument holds the
    /// command in its low <see cref="ExtentShift"/> bits and, above them, the extent a reservation command
    /// starts at (xen/include/public/xen.h, MEMOP_EXTENT_SHIFT): Xen's own continuations use it, and a guest
    /// normally passes 0 there.
    /// </summary>
    public static class MemoryCommand
    {
        public const uint IncreaseReservation = 0;
        public const uint DecreaseReservation = 1;
        public const uint MaximumRamPage = 2;
        public const uint CurrentReservation = 3;
        public const uint MaximumReservation = 4;
        public const uint PopulatePhysmap = 6;
        public const uint MemoryMap = 9;

        public const int ExtentShift = 6;
        public const ulong CommandMask = (1UL << ExtentShift) - 1;
    }

    /// <summary>
    /// struct xen_memory_reservation (32 bytes): decrease_reservation reads the MFNs to give back from the
    /// extent array; populate_physmap reads the pfns to fill and writes each new frame's MFN over its pfn.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MemoryReservation
    {
        /// <summary>Guest pointer to the array of xen_pfn_t (u64), one per extent.</summary>
        public ulong ExtentStart;
        public ulong NrExtents;

        /// <summary>Each extent is 2^order pages, aligned to its size.</summary>
        public uint ExtentOrder;

        /// <summary>XENMEMF_* (<see cref="MemoryFlags"/>).</summary>
        public uint MemFlags;

        /// <summary>The domain whose memory changes; an unprivileged domain may name only itself.</summary>
        public ushort DomainId;
    }

    /// <summary>xen_memory_reservation.mem_flags (xen/include/public/memory.h, XENMEMF_*).</summary>
    public static class MemoryFlags
    {
        /// <summary>Bits 0-7: the most address bits the new frames may have, 0 for no limit.</summary>
        public const uint AddressBitsMask = 0xFF;

        /// <summary>Bits 8-15: NUMA node + 1; XENMEMF_get_node gives <see cref="AnyNode"/> for 0.</summary>
        public const int NodeShift = 8;
        public const uint AnyNode = 0xFF;

        public const uint PopulateOnDemand = 1u << 16;
        public const uint ExactNodeRequest = 1u << 17;
        public const uint VirtualNode = 1u << 18;

        public static uint AddressBits(uint flags) => flags & AddressBitsMask;

        public static uint Node(uint flags) => ((flags >> NodeShift) - 1) & 0xFF;
    }
}

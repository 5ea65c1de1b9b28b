using Keel.Kernel.Paging;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// What memory_op checks before it touches any extent or domain (xen/common/memory.c: do_memory_op,
    /// construct_memop_from_reservation, propagate_node, populate_physmap, decrease_reservation), as pure
    /// functions of the copied-in request. A reservation request Xen will not carry out is not an error: the
    /// call does nothing and returns start_extent, the count already done.
    /// </summary>
    public static class ReservationRules
    {
        /// <summary>Xen refuses more extents than a continuation can encode (UINT_MAX >> MEMOP_EXTENT_SHIFT).</summary>
        public const ulong MaxExtents = uint.MaxValue >> MemoryCommand.ExtentShift;

        /// <summary>Xen's MAX_NUMNODES on x86 (CONFIG_NR_NUMA_NODES): a larger node number is refused outright.</summary>
        public const uint MaxNumaNodes = 64;

        private const int PageShift = 12;

        /// <summary>DOMID_SELF means the caller (Xen's rcu_lock_domain_by_any_id); anything else names a domain by id.</summary>
        public static ushort Target(ushort requested, ushort caller) => requested == DomainIds.Self ? caller : requested;

        /// <summary>Xen's XSM_TARGET default: a domain may act on itself; only the control domain on others.</summary>
        public static bool MayActOn(ushort caller, bool callerPrivileged, ushort target) => target == caller || callerPrivileged;

        /// <summary>
        /// Whether decrease_reservation or populate_physmap (<paramref name="command"/>) may go ahead, and on
        /// which domain; the caller still checks that domain exists and is alive. Refused: more than
        /// <see cref="MaxExtents"/>, a start at or past the end, an array that starts in the hypervisor's
        /// range (Xen's guest_handle_subrange_okay), an extent order above 0 (Keel hands out single frames;
        /// Xen refuses orders above the caller's max_order the same way), an address limit or NUMA node Keel
        /// cannot honour, populate-on-demand (Keel has none), and another domain named by an unprivileged caller.
        /// </summary>
        public static bool TryAccept(in MemoryReservation request, uint command, ulong startExtent, ushort caller, bool callerPrivileged, ulong machineFrames, out ushort target)
        {
            target = Target(request.DomainId, caller);
            if (request.NrExtents > MaxExtents || startExtent >= request.NrExtents) return false;
            if (!EntryRules.IsGuestAddress(request.ExtentStart)) return false;
            if (request.ExtentOrder != 0) return false;
            if (!AddressLimitAccepted(request.MemFlags, command, machineFrames)) return false;
            if (!NodeAccepted(request.MemFlags, command, callerPrivileged)) return false;
            if (command == MemoryCommand.PopulatePhysmap && (request.MemFlags & MemoryFlags.PopulateOnDemand) != 0) return false;
            return MayActOn(caller, callerPrivileged, target);
        }

        /// <summary>
        /// XENMEMF_address_bits: a limit at or above what the machine's frames need is no limit. Below that,
        /// Xen refuses 12 bits or fewer for every command and allocates under the limit for populate_physmap;
        /// Keel's allocator cannot choose where a frame comes from, so populate refuses what would be limited.
        /// </summary>
        public static bool AddressLimitAccepted(uint flags, uint command, ulong machineFrames)
        {
            uint bits = MemoryFlags.AddressBits(flags);
            if (bits == 0 || bits >= OrderOf(machineFrames) + PageShift) return true;
            return bits > PageShift && command != MemoryCommand.PopulatePhysmap;
        }

        /// <summary>
        /// Xen's propagate_node: no node, or a virtual node of a domain without virtual NUMA (every Keel
        /// domain), is no constraint; an unprivileged caller's node is ignored unless it insists on it, which
        /// is refused; the control domain may name any node below <see cref="MaxNumaNodes"/>, and one that
        /// insists on a node other than 0, Keel's only one, gets no frame.
        /// </summary>
        public static bool NodeAccepted(uint flags, uint command, bool callerPrivileged)
        {
            uint node = MemoryFlags.Node(flags);
            if ((flags & MemoryFlags.VirtualNode) != 0 || node == MemoryFlags.AnyNode) return true;
            bool exact = (flags & MemoryFlags.ExactNodeRequest) != 0;
            if (!callerPrivileged) return !exact;
            if (node >= MaxNumaNodes) return false;
            return !(exact && node != 0 && command == MemoryCommand.PopulatePhysmap);
        }

        /// <summary>Xen's get_order_from_pages: the least order whose 2^order pages hold <paramref name="pages"/>.</summary>
        public static uint OrderOf(ulong pages)
        {
            uint order = 0;
            while (order < 64 && (1UL << (int)order) < pages) order++;
            return order;
        }
    }
}

using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>The checks of set_segment_base (xen/arch/x86/pv/misc-hypercalls.c, do_set_segment_base) as pure functions.</summary>
    public static class SegmentBaseRules
    {
        /// <summary>
        /// The selector SEGBASE_GS_USER_SEL loads into GS. Xen forces RPL 3 on a non-null selector and, when
        /// the load faults, loads the null selector instead and still answers 0 (Linux BUG()s on an error here).
        /// The only selectors that load without a fault in Keel are null and the flat ring-3 ones: the guest's
        /// part of the GDT is empty (no set_gdt yet), there is no LDT, and the hypervisor's other descriptors
        /// are DPL 0 or system segments.
        /// </summary>
        public static ushort UserGsSelector(ulong argument)
        {
            ushort selector = (ushort)argument;
            if (selector <= 3) return 0;
            selector |= 3;
            return selector == FlatSelectors.Code32 || selector == FlatSelectors.Data || selector == FlatSelectors.Code64 ? selector : (ushort)0;
        }
    }
}

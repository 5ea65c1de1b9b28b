using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// vm_assist (21), xen/common/domain.c do_vm_assist: turns an assist type on or off for the calling
    /// domain. The types a 64-bit PV domain may name are Xen's PV64_VM_ASSIST_MASK
    /// (xen/arch/x86/include/asm/domain.h): all of the 32-bit set, several meaningless for a 64-bit guest but
    /// accepted so old guests keep booting, and m2p_strict. Keel remembers them per domain; it acts on none
    /// yet (writable page tables, for one, is not emulated, and XENVER_get_features does not offer it).
    /// </summary>
    public static class VmAssistRules
    {
        public const ulong ValidForPv64 =
            (1UL << (int)VmAssistType.FourGbSegments) | (1UL << (int)VmAssistType.FourGbSegmentsNotify) |
            (1UL << (int)VmAssistType.WritablePagetables) | (1UL << (int)VmAssistType.PaeExtendedCr3) |
            (1UL << (int)VmAssistType.ArchitecturalIopl) | (1UL << (int)VmAssistType.RunstateUpdateFlag) |
            (1UL << (int)VmAssistType.M2pStrict);

        /// <summary>
        /// Both arguments are C unsigned ints: only the registers' low 32 bits count. The type is checked
        /// first (-EINVAL for one outside the mask), then the command (-ENOSYS for neither enable nor disable).
        /// </summary>
        public static long Apply(ref ulong enabled, uint command, uint type)
        {
            if (type >= 64 || (ValidForPv64 & (1UL << (int)type)) == 0) return Errno.EINVAL;
            ulong bit = 1UL << (int)type;
            switch (command)
            {
                case VmAssistCommand.Enable:
                    enabled |= bit;
                    return 0;
                case VmAssistCommand.Disable:
                    enabled &= ~bit;
                    return 0;
                default:
                    return Errno.ENOSYS;
            }
        }
    }
}

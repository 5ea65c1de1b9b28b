using Keel.Kernel.Arch.X64;
using Keel.Kernel.Objects;

namespace Keel.Kernel.Traps
{
    /// <summary>
    /// Guest kernel mode and guest user mode: both run in ring 3, told apart by the kernel alone, each on its
    /// own top-level table (Xen's toggle_guest_mode, xen/arch/x86/pv/domain.c). A guest that never set a
    /// user table (NEW_USER_BASEPTR) runs its user mode on the kernel table. Each mode also has its own GS
    /// base (SegmentBases). Only for the running vCPU.
    /// </summary>
    internal static class GuestMode
    {
        internal static void Toggle(Vcpu vcpu)
        {
            SegmentBases.SwapGs(vcpu);
            vcpu.InUserMode = !vcpu.InUserMode;
            AddressSpaceSwitch.Load(vcpu.CurrentTable);
        }
    }
}

using Keel.Kernel.Objects;
using Keel.Kernel.Paging;
using Keel.Kernel.Traps;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// Machine state of its own vCPU that a guest kernel in ring 3 cannot set itself, as xen/arch/x86/pv/
    /// misc-hypercalls.c answers: fpu_taskswitch (5) and set_segment_base (25).
    /// </summary>
    internal static class VcpuStateHypercalls
    {
        /// <summary>
        /// fpu_taskswitch(int set): a non-zero set turns the vCPU's virtual CR0.TS on, so its next x87 or SSE
        /// instruction raises #NM (delivered to the guest, which clears it: GuestTraps); 0 turns it off.
        /// Xen writes the real TS at once because Xen's own code never touches the FPU; Keel's compiled code
        /// does, so the real TS is set only on the way back into the guest, and cleared first thing on every
        /// entry (GuestResume, image/RuntimeStubs.cs). Always 0.
        /// </summary>
        internal static long FpuTaskswitch(Vcpu vcpu, ulong set)
        {
            vcpu.TaskSwitched = (uint)set != 0;
            return 0;
        }

        /// <summary>
        /// set_segment_base(which, value): SEGBASE_FS, SEGBASE_GS_USER and SEGBASE_GS_KERNEL set a base, which
        /// must be canonical (-EINVAL); SEGBASE_GS_USER_SEL loads a selector into guest user mode's GS, a
        /// faulting one as null, and answers 0 either way, as Xen does. Anything else is -EINVAL.
        /// </summary>
        internal static long SetSegmentBase(Vcpu vcpu, ulong which, ulong value)
        {
            var register = (SegmentBaseRegister)(uint)which;
            if (register == SegmentBaseRegister.GsUserSelector)
            {
                SegmentBases.LoadUserGsSelector(vcpu, SegmentBaseRules.UserGsSelector(value));
                return 0;
            }
            if (register != SegmentBaseRegister.Fs && register != SegmentBaseRegister.GsUser && register != SegmentBaseRegister.GsKernel) return Errno.EINVAL;
            if (!EntryRules.IsCanonical(value)) return Errno.EINVAL;
            if (register == SegmentBaseRegister.Fs) SegmentBases.SetFs(vcpu, value);
            else if (register == SegmentBaseRegister.GsUser) SegmentBases.SetUserGs(vcpu, value);
            else SegmentBases.SetKernelGs(vcpu, value);
            return 0;
        }
    }
}

using Keel.Kernel.Arch.X64;
using Keel.Kernel.Objects;

namespace Keel.Kernel.Traps
{
    /// <summary>A vCPU's FS and GS as it last had them (Xen's arch.pv.fs, gs, fs_base, gs_base_kernel, gs_base_user).</summary>
    internal struct SegmentState
    {
        /// <summary>The selectors, shared by both guest modes.</summary>
        internal ushort FsSelector, GsSelector;

        internal ulong Fs;

        /// <summary>GS base in guest kernel mode.</summary>
        internal ulong GsKernel;

        /// <summary>GS base in guest user mode.</summary>
        internal ulong GsUser;
    }

    /// <summary>
    /// The FS and GS of 64-bit PV vCPUs (xen/arch/x86/pv/misc-hypercalls.c do_set_segment_base,
    /// pv/domain.c toggle_guest_mode, domain.c save_segments and load_segments). Guest kernel and guest user
    /// mode share FS and the selectors but each has its own GS base. Xen keeps the inactive GS base in
    /// KERNEL_GS_BASE and swaps with SWAPGS; Keel's SYSCALL entry needs KERNEL_GS_BASE for its per-CPU area,
    /// so the inactive base stays in the vCPU and a mode change rewrites GS_BASE. While a vCPU runs, its
    /// selectors and bases are the processor's (the guest changes them itself by loading a selector), so
    /// they are read back when another vCPU is about to run; switching is lazy, since the kernel itself uses
    /// neither segment. DS and ES are not switched: their bases mean nothing in 64-bit mode. Everything here
    /// is for the running vCPU, except <see cref="Resume"/>, which makes a vCPU the running one.
    /// </summary>
    internal static class SegmentBases
    {
        /// <summary>The vCPU whose selectors and bases the processor holds.</summary>
        private static Vcpu s_loaded;

        /// <summary>Just before the kernel returns to <paramref name="vcpu"/> (GuestResume): its selectors and bases go into the processor, the previous vCPU's having been read back.</summary>
        internal static void Resume(Vcpu vcpu)
        {
            if (s_loaded == vcpu) return;
            if (s_loaded != null && s_loaded.Domain.IsAlive) Save(s_loaded);
            // Selectors first: loading one sets its base too, which the saved base then replaces. A selector
            // saved from the processor loads again in ring 0 while its descriptor is unchanged, which holds
            // as long as guests have no descriptors of their own (no set_gdt, no LDT yet); with those, this
            // must check it first, as Xen's load_segments falls back to the null selector.
            SegmentRegisters.FsSelector = vcpu.Segments.FsSelector;
            SegmentRegisters.GsSelector = vcpu.Segments.GsSelector;
            SegmentRegisters.FsBase = vcpu.Segments.Fs;
            SegmentRegisters.GsBase = vcpu.InUserMode ? vcpu.Segments.GsUser : vcpu.Segments.GsKernel;
            s_loaded = vcpu;
        }

        private static void Save(Vcpu vcpu)
        {
            vcpu.Segments.FsSelector = SegmentRegisters.FsSelector;
            vcpu.Segments.GsSelector = SegmentRegisters.GsSelector;
            vcpu.Segments.Fs = SegmentRegisters.FsBase;
            if (vcpu.InUserMode) vcpu.Segments.GsUser = SegmentRegisters.GsBase;
            else vcpu.Segments.GsKernel = SegmentRegisters.GsBase;
        }

        /// <summary>Just before the vCPU changes mode (GuestMode.Toggle): keeps the GS base of the mode it leaves, loads the other's.</summary>
        internal static void SwapGs(Vcpu vcpu)
        {
            ref SegmentState bases = ref vcpu.Segments;
            if (vcpu.InUserMode)
            {
                bases.GsUser = SegmentRegisters.GsBase;
                SegmentRegisters.GsBase = bases.GsKernel;
            }
            else
            {
                bases.GsKernel = SegmentRegisters.GsBase;
                SegmentRegisters.GsBase = bases.GsUser;
            }
        }

        // The setters are reached through hypercalls, which only guest kernel mode makes: FS and the kernel
        // GS base are live, the user GS base is not. Bases are canonical (the hypercall checks): WRMSR
        // would fault on any other.
        internal static void SetFs(Vcpu vcpu, ulong value)
        {
            vcpu.Segments.Fs = value;
            SegmentRegisters.FsBase = value;
        }

        internal static void SetKernelGs(Vcpu vcpu, ulong value)
        {
            vcpu.Segments.GsKernel = value;
            SegmentRegisters.GsBase = value;
        }

        internal static void SetUserGs(Vcpu vcpu, ulong value) => vcpu.Segments.GsUser = value;

        /// <summary>
        /// SEGBASE_GS_USER_SEL: loads a selector (one SegmentBaseRules.UserGsSelector allows) into GS for guest
        /// user mode. The selector register is shared by both modes, as on Xen; the load also sets the hidden
        /// base, which belongs to guest kernel mode now, so that is put back. The user base becomes the
        /// descriptor's, 0 for every selector allowed (null included, which Xen makes base 0 on AMD too).
        /// </summary>
        internal static void LoadUserGsSelector(Vcpu vcpu, ushort selector)
        {
            ulong kernelGs = SegmentRegisters.GsBase;
            SegmentRegisters.GsSelector = selector;
            SegmentRegisters.GsBase = kernelGs;
            vcpu.Segments.GsSelector = selector;
            vcpu.Segments.GsUser = 0;
        }
    }
}

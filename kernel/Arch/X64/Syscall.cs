namespace Keel.Kernel.Arch.X64
{
    /// <summary>
    /// Turns on SYSCALL and points it at the entry stubs (AMD APM vol. 2, 6.1.1; Intel SDM 3A 5.8.8). SYSCALL
    /// from a 64-bit guest is a hypercall (or, from guest user mode, a system call bounced to the guest
    /// kernel), exactly as in Xen's PV ABI.
    /// </summary>
    internal static unsafe class Syscall
    {
        private const uint Efer = 0xC0000080, Star = 0xC0000081, Lstar = 0xC0000082, Cstar = 0xC0000083, Fmask = 0xC0000084;
        private const uint KernelGsBase = 0xC0000102;
        private const ulong EferSyscallEnable = 1;

        // RFLAGS bits SYSCALL clears on entry, as Xen's: TF, IF, DF, IOPL, NT, AC (so the stubs run with
        // interrupts off and a known direction flag, whatever the guest had).
        private const ulong MaskedFlags = 0x100 | 0x200 | 0x400 | 0x3000 | 0x4000 | 0x40000;

        /// <summary>
        /// The per-CPU area the SYSCALL stub reaches through KERNEL_GS_BASE: word 0 a scratch slot for the guest's
        /// RSP, word 1 the kernel stack top (the same value as TSS.RSP0, so both ways in build the frame at
        /// the same place). It must stay mapped for the life of the kernel.
        /// </summary>
        internal static void Enable(ulong* perCpuArea, ulong kernelStackTop)
        {
            perCpuArea[0] = 0;
            perCpuArea[1] = kernelStackTop;
            Native.WriteMsr(KernelGsBase, (ulong)perCpuArea);
            // STAR: SYSCALL loads CS from bits 32-47 (SS = CS + 8); SYSRET bases its selectors on bits 48-63.
            Native.WriteMsr(Star, ((ulong)DescriptorTables.GuestCode32 << 48) | ((ulong)DescriptorTables.KernelCode << 32));
            Native.WriteMsr(Lstar, Native.Syscall64Address());
            Native.WriteMsr(Cstar, Native.Syscall32Address());
            Native.WriteMsr(Fmask, MaskedFlags);
            Native.WriteMsr(Efer, Native.ReadMsr(Efer) | EferSyscallEnable);
        }
    }
}

namespace Keel.Kernel.Traps
{
    /// <summary>One entry of a vCPU's virtual IDT (xen/include/public/arch-x86/xen.h, struct trap_info).</summary>
    internal struct TrapEntry
    {
        /// <summary>Bits 0-1: the lowest guest privilege that may raise it with `int n`; bit 2: mask events on entry.</summary>
        internal byte Flags;
        internal ulong Address;

        internal int Dpl => Flags & 3;
        internal bool MasksEvents => (Flags & 4) != 0;
    }

    /// <summary>The callbacks a PV64 guest registers (xen/include/public/callback.h, CALLBACKTYPE_*).</summary>
    internal enum CallbackType : ushort { Event = 0, Failsafe = 1, Syscall = 2, Nmi = 4, Sysenter = 5, Syscall32 = 7 }

    /// <summary>
    /// A vCPU's virtual trap state: the guest's IDT, its callbacks and the kernel stack it gave with
    /// stack_switch, which a trap from guest user mode lands on. The guest writes it through hypercalls; the
    /// bounce code reads it.
    /// </summary>
    internal sealed class VirtualTraps
    {
        internal const int Vectors = 256, Callbacks = 8;

        internal readonly TrapEntry[] Table = new TrapEntry[Vectors];
        internal readonly ulong[] CallbackAddress = new ulong[Callbacks];
        internal readonly bool[] CallbackMasksEvents = new bool[Callbacks];

        /// <summary>The guest kernel's stack pointer for traps from guest user mode (stack_switch).</summary>
        internal ulong KernelStackPointer;

        internal void Clear()
        {
            for (int i = 0; i < Vectors; i++) Table[i] = default;
        }
    }
}

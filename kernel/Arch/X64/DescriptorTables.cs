using System.Runtime.InteropServices;

namespace Keel.Kernel.Arch.X64
{
    /// <summary>
    /// The GDT, TSS and IDT (Intel SDM vol. 3A, chapters 3, 7 and 6). The GDT has Xen's shape
    /// (xen/arch/x86/include/asm/desc.h, xen/include/public/arch-x86/xen-x86_64.h): 14 pages of entries a PV
    /// guest may fill through set_gdt, then the hypervisor's reserved page from selector 0xe000, holding the
    /// kernel's own segments, the flat ring-3 segments every PV guest loads (0xe023 32-bit code, 0xe02b data,
    /// 0xe033 64-bit code) and the TSS. The ring-3 trio is in the order SYSRET needs (SDM 3A 5.8.8: STAR's
    /// upper selector + 8 is SS, + 16 the 64-bit CS).
    /// </summary>
    internal static unsafe class DescriptorTables
    {
        internal const ushort KernelCode = 0xE008, KernelData = 0xE010;
        internal const ushort GuestCode32 = 0xE023, GuestData = 0xE02B, GuestCode64 = 0xE033;
        internal const ushort TaskState = 0xE040;

        /// <summary>Interrupt stack table slot used for faults that must not run on a possibly broken stack.</summary>
        internal const int EmergencyStack = 1;

        // Xen's FIRST_RESERVED_GDT_PAGE is 14: the guest's part is 14 pages, the reserved part one more.
        internal const int GdtBytes = 15 * 4096;

        // Vectors a guest may raise with an instruction of its own: int3 and into (Xen's IDT gives exactly
        // these DPL 3; any other `int n` from ring 3 arrives as #GP and is decoded).
        private const int BreakpointVector = 3, OverflowVector = 4;

        [StructLayout(LayoutKind.Sequential, Pack = 1)]
        private struct TablePointer
        {
            internal ushort Limit;
            internal ulong Base;
        }

        // The 64-bit TSS (SDM 3A, figure 8-11): rsp0-2 at 4, IST1-7 at 36, I/O map base at 102.
        [StructLayout(LayoutKind.Explicit, Size = 104)]
        private struct TaskStateSegment
        {
            [FieldOffset(4)] internal ulong Rsp0;
            [FieldOffset(36)] internal ulong Ist1;
            [FieldOffset(102)] internal ushort IoMapBase;
        }

        /// <summary>
        /// Builds and loads the GDT and TSS (in gdtPages, GdtBytes long, and tssPage) and the IDT (in idtPage); every
        /// vector's gate points at its entry stub. NMI (2), double fault (8) and machine check (18) switch to the
        /// emergency stack. The memory must stay mapped and untouched for the life of the kernel.
        /// </summary>
        internal static void Load(byte* gdtPages, byte* tssPage, byte* idtPage, ulong kernelStackTop, ulong emergencyStackTop)
        {
            ulong* gdt = (ulong*)gdtPages;
            new System.Span<byte>(gdtPages, GdtBytes).Clear();
            gdt[KernelCode >> 3] = 0x00AF9A000000FFFF; // present, DPL 0, executable, L (64-bit)
            gdt[KernelData >> 3] = 0x00CF92000000FFFF; // present, DPL 0, writable
            gdt[GuestCode32 >> 3] = 0x00CFFA000000FFFF; // DPL 3, executable, D (32-bit), 4 GiB
            gdt[GuestData >> 3] = 0x00CFF2000000FFFF; // DPL 3, writable, 4 GiB
            gdt[GuestCode64 >> 3] = 0x00AFFA000000FFFF; // DPL 3, executable, L

            TaskStateSegment* tss = (TaskStateSegment*)tssPage;
            *tss = default;
            tss->Rsp0 = kernelStackTop;
            tss->Ist1 = emergencyStackTop;
            tss->IoMapBase = (ushort)sizeof(TaskStateSegment); // no I/O permission bitmap: ring 3 gets no ports
            ulong tssBase = (ulong)tss;
            ulong limit = (ulong)sizeof(TaskStateSegment) - 1;
            // System-segment descriptor, type 9 (available 64-bit TSS), present (SDM 3A, figure 8-4).
            gdt[TaskState >> 3] = (limit & 0xFFFF) | ((tssBase & 0xFFFFFF) << 16) | (0x89UL << 40) | (((limit >> 16) & 0xF) << 48) | (((tssBase >> 24) & 0xFF) << 56);
            gdt[(TaskState >> 3) + 1] = tssBase >> 32;

            TablePointer gdtPointer;
            gdtPointer.Limit = GdtBytes - 1;
            gdtPointer.Base = (ulong)gdt;
            Native.LoadGdt(&gdtPointer, KernelCode, KernelData);
            Native.LoadTaskRegister(TaskState);

            ulong stubs = Native.InterruptStubsAddress();
            ulong* idt = (ulong*)idtPage;
            for (int vector = 0; vector < 256; vector++)
            {
                ulong handler = stubs + (ulong)(vector * Boot.KernelLayout.InterruptStubStride);
                ulong ist = vector == 2 || vector == 8 || vector == 18 ? (ulong)EmergencyStack : 0;
                ulong dpl = vector == BreakpointVector || vector == OverflowVector ? 3UL : 0UL;
                // 64-bit interrupt gate (type 0xE), present (SDM 3A, figure 6-8). Interrupt gates clear IF on
                // entry, so handlers run with interrupts off.
                idt[vector * 2] = (handler & 0xFFFF) | ((ulong)KernelCode << 16) | (ist << 32) | ((0x8EUL | dpl << 5) << 40) | ((handler >> 16 & 0xFFFF) << 48);
                idt[vector * 2 + 1] = handler >> 32;
            }
            TablePointer idtPointer;
            idtPointer.Limit = 256 * 16 - 1;
            idtPointer.Base = (ulong)idt;
            Native.LoadIdt(&idtPointer);
        }
    }
}

using System.Runtime.InteropServices;

namespace Keel.Kernel.Arch.X64
{
    /// <summary>
    /// The GDT, TSS and IDT (Intel SDM vol. 3A, chapters 3, 7 and 6), built in one page the caller provides
    /// and loaded. Selectors follow the SYSCALL/SYSRET layout (SDM 3A 5.8.8): kernel code 0x08, kernel data
    /// 0x10, user data 0x18, user code 0x20, so later ring-3 domains need no new descriptors.
    /// </summary>
    internal static unsafe class DescriptorTables
    {
        internal const ushort KernelCode = 0x08, KernelData = 0x10, UserData = 0x18 | 3, UserCode = 0x20 | 3, TaskState = 0x28;

        /// <summary>Interrupt stack table slot used for faults that must not run on a possibly broken stack.</summary>
        internal const int EmergencyStack = 1;

        // Page layout: GDT (7 entries: 5 segments plus the 16-byte TSS descriptor) at 0, TSS at 0x100,
        // IDT (256 gates of 16 bytes) needs its own page.
        private const int GdtOffset = 0, TssOffset = 0x100;

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
        /// Loads the GDT and TSS (in gdtPage) and the IDT (in idtPage); every vector's gate points at its
        /// entry stub. NMI (2), double fault (8) and machine check (18) switch to the emergency stack.
        /// Both pages must stay mapped and untouched for the life of the kernel.
        /// </summary>
        internal static void Load(byte* gdtPage, byte* idtPage, ulong kernelStackTop, ulong emergencyStackTop)
        {
            ulong* gdt = (ulong*)(gdtPage + GdtOffset);
            gdt[0] = 0;
            gdt[1] = 0x00AF9A000000FFFF; // kernel code: present, DPL 0, executable, L (64-bit)
            gdt[2] = 0x00CF92000000FFFF; // kernel data: present, DPL 0, writable
            gdt[3] = 0x00CFF2000000FFFF; // user data: DPL 3
            gdt[4] = 0x00AFFA000000FFFF; // user code: DPL 3, L

            TaskStateSegment* tss = (TaskStateSegment*)(gdtPage + TssOffset);
            *tss = default;
            tss->Rsp0 = kernelStackTop;
            tss->Ist1 = emergencyStackTop;
            tss->IoMapBase = (ushort)sizeof(TaskStateSegment); // no I/O permission bitmap: ring 3 gets no ports
            ulong tssBase = (ulong)tss;
            ulong limit = (ulong)sizeof(TaskStateSegment) - 1;
            // System-segment descriptor, type 9 (available 64-bit TSS), present (SDM 3A, figure 8-4).
            gdt[5] = (limit & 0xFFFF) | ((tssBase & 0xFFFFFF) << 16) | (0x89UL << 40) | (((limit >> 16) & 0xF) << 48) | (((tssBase >> 24) & 0xFF) << 56);
            gdt[6] = tssBase >> 32;

            TablePointer gdtPointer;
            gdtPointer.Limit = 7 * 8 - 1;
            gdtPointer.Base = (ulong)gdt;
            Native.LoadGdt(&gdtPointer, KernelCode, KernelData);
            Native.LoadTaskRegister(TaskState);

            ulong stubs = Native.InterruptStubsAddress();
            ulong* idt = (ulong*)idtPage;
            for (int vector = 0; vector < 256; vector++)
            {
                ulong handler = stubs + (ulong)(vector * Boot.KernelLayout.InterruptStubStride);
                ulong ist = vector == 2 || vector == 8 || vector == 18 ? (ulong)EmergencyStack : 0;
                // 64-bit interrupt gate (type 0xE), present, DPL 0 (SDM 3A, figure 6-8). Interrupt gates clear
                // IF on entry, so handlers run with interrupts off.
                idt[vector * 2] = (handler & 0xFFFF) | ((ulong)KernelCode << 16) | (ist << 32) | (0x8EUL << 40) | ((handler >> 16 & 0xFFFF) << 48);
                idt[vector * 2 + 1] = handler >> 32;
            }
            TablePointer idtPointer;
            idtPointer.Limit = 256 * 16 - 1;
            idtPointer.Base = (ulong)idt;
            Native.LoadIdt(&idtPointer);
        }
    }
}

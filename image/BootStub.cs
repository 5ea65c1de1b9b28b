using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Keel.Image;

/// <summary>
/// The boot region's code and data: the Multiboot2 header (Multiboot2 spec, section 3.1), a minimal GDT and
/// the entry GRUB jumps to in 32-bit protected mode, which builds temporary page tables, enters long mode
/// (Intel SDM vol. 3A, 10.8.5) and jumps to the kernel's managed entry in the top 2 GiB.
/// The linker places the boot link table (Layout.BootLinkTable) at BootBase and this code right after it.
/// </summary>
public static class BootStub
{
    private const uint Multiboot2Magic = 0xE85250D6;
    private const uint Multiboot2BootloaderMagic = 0x36D76289;

    public static ulong LinkTableBytes => (ulong)Layout.BootLinkTable.Length * 8;

    public static ulong CodeBase => Layout.BootBase + LinkTableBytes;

    /// <summary>Generates the blob; Entry is the physical address of the 32-bit entry point.</summary>
    public static (byte[] Bytes, ulong Entry) Generate()
    {
        // Pass 1 finds where the 64-bit code will start; pass 2 assembles with that address fixed (the far
        // jump's size does not depend on its target, so the layout is stable between the passes).
        var (_, _, probe64) = Build(0);
        var (bytes, entry, at64) = Build(probe64);
        if (at64 != probe64) throw new InvalidOperationException("boot stub layout moved between passes");
        return (bytes, entry);
    }

    private static (byte[] Bytes, ulong Entry, ulong LongModeAddress) Build(ulong longModeAddress)
    {
        var blob = new List<byte>();
        ulong Here() => CodeBase + (ulong)blob.Count;
        void Align(int n) { while (blob.Count % n != 0) blob.Add(0); }
        void Put32(uint v) => blob.AddRange(BitConverter.GetBytes(v));
        void Put64(ulong v) => blob.AddRange(BitConverter.GetBytes(v));

        // Multiboot2 header: magic, architecture 0 (i386 protected mode), length, checksum, then tags.
        // The entry-address tag (type 3) names the 32-bit entry explicitly; GRUB would otherwise use the
        // ELF entry, which is the same address, but the tag makes the contract visible.
        int headerStart = blob.Count;
        const uint headerLength = 16 + 16 + 8;
        Put32(Multiboot2Magic);
        Put32(0);
        Put32(headerLength);
        Put32(unchecked(0u - (Multiboot2Magic + 0 + headerLength)));
        int entryTagValue = blob.Count + 8;
        Put32(3 | (0u << 16)); // type 3, flags 0
        Put32(12);
        Put32(0); // patched below with the entry address
        Put32(0); // padding: tags are 8-byte aligned
        Put32(0); Put32(8); // end tag
        if (blob.Count - headerStart != headerLength) throw new InvalidOperationException("multiboot2 header size");

        // GDT for the switch to long mode: null, 64-bit code (L=1, selector 0x08), data (selector 0x10).
        Align(16);
        ulong gdt = Here();
        Put64(0);
        Put64(0x00AF9A000000FFFF);
        Put64(0x00CF92000000FFFF);
        ulong gdtr = Here();
        blob.AddRange(BitConverter.GetBytes((ushort)(3 * 8 - 1)));
        Put32((uint)gdt);
        Align(16);

        // Messages for failures before long mode: nothing else can report them.
        ulong noMultiboot = Here();
        blob.AddRange("keel: not started by a Multiboot2 loader\n\0"u8.ToArray());
        ulong noLongMode = Here();
        blob.AddRange("keel: this CPU lacks long mode or NX\n\0"u8.ToArray());
        Align(16);

        ulong entry32 = Here();
        var code32 = Protected32(longModeAddress, gdtr, noMultiboot, noLongMode);
        byte[] bytes32 = Assemble(code32, entry32);
        blob.AddRange(bytes32);
        Align(16);
        ulong entry64 = Here();
        byte[] bytes64 = Assemble(LongMode64(), entry64);
        blob.AddRange(bytes64);

        byte[] result = blob.ToArray();
        BitConverter.GetBytes((uint)entry32).CopyTo(result, entryTagValue);
        return (result, entry32, entry64);
    }

    private static byte[] Assemble(Assembler a, ulong address) => a.AssembleAt(address, new Dictionary<string, Label>()).Bytes;

    private static Assembler Protected32(ulong longModeAddress, ulong gdtr, ulong noMultiboot, ulong noLongMode)
    {
        var a = new Assembler(32) { PreferShortBranch = false };
        var fail = a.CreateLabel();
        var failLoop = a.CreateLabel();
        var failWait = a.CreateLabel();
        var failDone = a.CreateLabel();
        var badLoader = a.CreateLabel();
        var fillPd = a.CreateLabel();

        ulong pml4 = Layout.BootTables;
        ulong pdptLow = pml4 + 0x1000;
        ulong pdptHigh = pml4 + 0x2000;
        ulong pd = pml4 + 0x3000;

        a.cli();
        a.cmp(eax, Multiboot2BootloaderMagic);
        a.jne(badLoader);
        a.mov(esi, ebx); // the Multiboot2 information structure, kept in esi until the managed entry

        // CPUID 0x80000001 EDX: bit 29 long mode, bit 20 NX (execute disable). Both are required.
        a.mov(eax, 0x80000000);
        a.cpuid();
        a.cmp(eax, 0x80000001);
        a.jb(fail);
        a.mov(eax, 0x80000001);
        a.cpuid();
        a.mov(eax, edx);
        a.and(eax, (1 << 29) | (1 << 20));
        a.cmp(eax, (1 << 29) | (1 << 20));
        a.jne(fail);

        // Zero the seven table pages, then link them. Entry flags: present | writable (0x3); the PD entries
        // also set PS (0x80) for 2 MiB pages. Physical 0-4 GiB is mapped three times: identity (to survive
        // the switch), at the direct-map offset, and (its first 2 GiB) at the kernel's window.
        a.mov(edi, (uint)pml4);
        a.mov(ecx, Layout.BootTablePages * 1024);
        a.xor(eax, eax);
        a.rep.stosd();
        a.mov(__dword_ptr[(uint)pml4 + 0 * 8], (uint)pdptLow | 3);
        a.mov(__dword_ptr[(uint)pml4 + L4Slot(Layout.DirectMapOffset) * 8], (uint)pdptLow | 3);
        a.mov(__dword_ptr[(uint)pml4 + L4Slot(Layout.KernelVirtualOffset) * 8], (uint)pdptHigh | 3);
        for (uint i = 0; i < 4; i++)
        {
            a.mov(__dword_ptr[(uint)pdptLow + i * 8], (uint)(pd + i * 0x1000) | 3);
        }
        uint window = L3Slot(Layout.KernelVirtualOffset);
        a.mov(__dword_ptr[(uint)pdptHigh + window * 8], (uint)pd | 3);
        a.mov(__dword_ptr[(uint)pdptHigh + (window + 1) * 8], (uint)(pd + 0x1000) | 3);
        a.mov(edi, (uint)pd);
        a.mov(eax, 0x83);
        a.mov(ecx, 4 * 512);
        a.Label(ref fillPd);
        a.mov(__dword_ptr[edi], eax);
        a.add(eax, 0x200000);
        a.add(edi, 8);
        a.dec(ecx);
        a.jnz(fillPd);

        a.mov(eax, (uint)pml4);
        a.mov(cr3, eax);
        // CR4: PAE (bit 5), OSFXSR (bit 9) and OSXMMEXCPT (bit 10), since compiled code uses SSE.
        a.mov(eax, cr4);
        a.or(eax, (1 << 5) | (1 << 9) | (1 << 10));
        a.mov(cr4, eax);
        // EFER (MSR 0xC0000080): LME (bit 8) and NXE (bit 11).
        a.mov(ecx, 0xC0000080);
        a.rdmsr();
        a.or(eax, (1 << 8) | (1 << 11));
        a.wrmsr();
        // CR0: PG (bit 31), WP (bit 16: supervisor writes honour read-only pages), MP (bit 1); clear EM (bit 2).
        a.mov(eax, cr0);
        a.and(eax, ~(1 << 2));
        a.or(eax, unchecked((int)0x80010002));
        a.mov(cr0, eax);
        a.lgdt(__fword_ptr[(uint)gdtr]);
        a.jmp(0x08, (uint)longModeAddress);

        a.Label(ref badLoader);
        a.mov(esi, (uint)noMultiboot);
        a.jmp(failLoop);
        a.Label(ref fail);
        a.mov(esi, (uint)noLongMode);
        // Print the NUL-terminated message on COM1 (waiting for the transmitter: LSR bit 5), then stop.
        a.Label(ref failLoop);
        a.mov(dx, 0x3FD);
        a.Label(ref failWait);
        a.@in(al, dx);
        a.test(al, 0x20);
        a.jz(failWait);
        a.lodsb();
        a.test(al, al);
        a.jz(failDone);
        a.mov(dx, 0x3F8);
        a.@out(dx, al);
        a.jmp(failLoop);
        a.Label(ref failDone);
        // isa-debug-exit (QEMU) turns this into a non-zero exit status; real hardware just halts below.
        a.mov(dx, 0xF4);
        a.mov(eax, 0x7F);
        a.@out(dx, eax);
        var halt = a.CreateLabel();
        a.Label(ref halt);
        a.hlt();
        a.jmp(halt);
        return a;
    }

    private static uint L4Slot(ulong virtualAddress) => (uint)(virtualAddress >> 39) & 511;

    // The kernel window's two 1 GiB entries must both fall in the one PDPT the stub gives it.
    private static uint L3Slot(ulong virtualAddress) =>
        virtualAddress % (1UL << 30) == 0 && ((virtualAddress >> 30) & 511) < 511
            ? (uint)(virtualAddress >> 30) & 511
            : throw new InvalidOperationException("the kernel window must start on a 1 GiB boundary below a PDPT's last entry");

    private static Assembler LongMode64()
    {
        var a = new Assembler(64);
        a.mov(ax, 0x10);
        a.LoadDataSegments(ax);
        // Managed entry: keel_main(multiboot2 info physical address, boot link table virtual address),
        // on the kernel stack, with a zero return address so the stack is aligned as after a call
        // (SysV ABI: rsp + 8 is 16-byte aligned at entry) and a backtrace ends there.
        a.mov(rax, Layout.BootBase);
        a.mov(rsp, __qword_ptr[rax + 8]);
        a.mov(edi, esi);
        a.mov(rsi, Layout.DirectMapOffset + Layout.BootBase);
        a.xor(ebp, ebp);
        a.push(0);
        a.jmp(__qword_ptr[rax]);
        return a;
    }
}

using System;

namespace Keel.Kernel.Arch.X64
{
    /// <summary>
    /// The hypercall page a PV kernel names with its HYPERCALL_PAGE note, filled as Xen fills it for a
    /// 64-bit PV guest (xen/arch/x86/pv/hypercall.c): stub n at n * 32 saves RCX and R11 (which SYSCALL
    /// overwrites), loads n into EAX and issues SYSCALL; the iret stub (23) also pushes RAX and never
    /// returns. Everything else is int3, so a jump into the padding traps.
    /// </summary>
    internal static class HypercallPage
    {
        private const int StubBytes = 32, IretNumber = 23;

        internal static void Fill(Span<byte> page)
        {
            page.Fill(0xCC);
            for (int n = 0; n < page.Length / StubBytes; n++)
            {
                Span<byte> stub = page.Slice(n * StubBytes, StubBytes);
                int i = 0;
                stub[i++] = 0x51;                     // push rcx
                stub[i++] = 0x41; stub[i++] = 0x53;   // push r11
                if (n == IretNumber) stub[i++] = 0x50; // push rax
                stub[i++] = 0xB8;                     // mov eax, imm32
                stub[i++] = (byte)n; stub[i++] = 0; stub[i++] = 0; stub[i++] = 0;
                stub[i++] = 0x0F; stub[i++] = 0x05;   // syscall
                if (n == IretNumber) continue;
                stub[i++] = 0x41; stub[i++] = 0x5B;   // pop r11
                stub[i++] = 0x59;                     // pop rcx
                stub[i] = 0xC3;                       // ret
            }
        }
    }
}

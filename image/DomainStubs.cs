using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Keel.Image;

/// <summary>
/// The machine code of a Keel domain (the guest side of Xen's PV64 ABI): the entry, hypercalls through the
/// hypercall page, entry stubs for the guest's own trap handlers, and the probes test domains use to try
/// instructions and addresses the kernel must refuse.
/// </summary>
public static class DomainStubs
{
    /// <summary>Distance between consecutive trap entry stubs; stub v handles vector v.</summary>
    public const int TrapStubStride = 16;

    // Hypercall page stub 23 (iret) does not return; every other stub is `call`ed.
    private const int IretStub = 23 * 32;

    // Vectors whose bounce frame carries an error code (Intel SDM vol. 3A, table 6-1).
    private static readonly HashSet<int> VectorsWithErrorCode = [8, 10, 11, 12, 13, 14, 17, 21, 29, 30];

    public static void Emit(Assembler a, Func<string, Label> Mark, Action<string, Action> Leaf, Func<string, MemoryOperand> LinkSlot)
    {
        EmitEntryAndHypercall(a, Mark, Leaf, LinkSlot);
        var common = EmitTrapCommon(a, LinkSlot);
        EmitUserMode(a, Mark, Leaf, LinkSlot);
        EmitProbes(a, Mark, Leaf);
        // Last, and more than 127 bytes after the common path, so every stub's jump is encoded rel32 and
        // every stub has the same size (RuntimeStubs.Generate checks the stride).
        EmitTrapStubs(a, Mark, Leaf, common);
    }

    /// <summary>
    /// Xen's PV64 entry (xen/include/public/xen.h, "start of day") gives RSI = start_info and RSP = the top of
    /// one boot-stack page; _start moves to the image's own larger stack and calls keel_domain_entry(start_info,
    /// modules start, modules end, heap start, heap end), which never returns. keel_hypercall(number, a1..a5)
    /// turns the SysV call into Xen's registers (RDI, RSI, RDX, R10, R8) and calls stub `number` of the
    /// hypercall page the kernel filled.
    /// </summary>
    private static void EmitEntryAndHypercall(Assembler a, Func<string, Label> Mark, Action<string, Action> Leaf, Func<string, MemoryOperand> LinkSlot)
    {
        Mark("_start");
        a.AddInstruction(Instruction.Create(Code.Mov_r64_rm64, Register.RSP, LinkSlot("__keel_stack_top")));
        a.xor(ebp, ebp);
        a.mov(rdi, rsi);
        a.AddInstruction(Instruction.Create(Code.Mov_r64_rm64, Register.RSI, LinkSlot("__keel_modules_start")));
        a.AddInstruction(Instruction.Create(Code.Mov_r64_rm64, Register.RDX, LinkSlot("__keel_modules_end")));
        a.AddInstruction(Instruction.Create(Code.Mov_r64_rm64, Register.RCX, LinkSlot("__keel_heap_start")));
        a.AddInstruction(Instruction.Create(Code.Mov_r64_rm64, Register.R8, LinkSlot("__keel_heap_end")));
        a.AddInstruction(Instruction.Create(Code.Call_rm64, LinkSlot("keel_domain_entry")));
        a.ud2();
        Leaf("keel_hypercall", () =>
        {
            a.mov(rax, rdi);
            a.mov(rdi, rsi);
            a.mov(rsi, rdx);
            a.mov(rdx, rcx);
            a.mov(r10, r8);
            a.mov(r8, r9);
            a.shl(rax, 5);
            a.AddInstruction(Instruction.Create(Code.Add_r64_rm64, Register.RAX, LinkSlot("__keel_hypercall_page")));
            a.call(rax);
        });
        // RDTSC is allowed in ring 3 (CR4.TSD clear): with vcpu_time_info it gives system time without a hypercall.
        Leaf("keel_rdtsc", () =>
        {
            a.rdtsc();
            a.shl(rdx, 32);
            a.or(rax, rdx);
        });
        // A call that does nothing: the baseline the hypercall benchmarks compare against.
        Leaf("keel_nop", () => { });
        // The image's first address: its VIRT_BASE, since a Keel domain's first page is pfn 0.
        Leaf("keel_image_base", () => a.AddInstruction(Instruction.Create(Code.Mov_r64_rm64, Register.RAX, LinkSlot("__keel_text_start"))));
    }

    /// <summary>
    /// Trap entry: the kernel's bounce frame holds, from RSP up, RCX, R11, [error code], RIP, CS, RFLAGS,
    /// RSP, SS (Xen's create_bounce_frame). Stub v restores RCX and R11, makes the frame uniform (a zero
    /// error code where the CPU has none), pushes v and joins the common path, which saves every general
    /// register and the SSE state (the interrupted code is compiled C# and keeps values in XMM registers),
    /// calls keel_guest_trap(frame) and leaves through the iret hypercall with the frame as the handler left
    /// it. The stack is 16-byte aligned at the call: 22 quadwords and the 512-byte FXSAVE area below an
    /// aligned bounce frame.
    /// </summary>
    private static Label EmitTrapCommon(Assembler a, Func<string, MemoryOperand> LinkSlot)
    {
        var common = a.CreateLabel();
        a.Label(ref common);
        foreach (var r in new[] { rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15 }) a.push(r);
        a.sub(rsp, 512);
        a.fxsave64(__[rsp]);
        a.lea(rdi, __[rsp + 512]);
        a.cld();
        a.AddInstruction(Instruction.Create(Code.Call_rm64, LinkSlot("keel_guest_trap")));
        a.fxrstor64(__[rsp]);
        a.add(rsp, 512);
        foreach (var r in new[] { r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax }) a.pop(r);
        a.add(rsp, 16);
        // iret_context below the remaining RIP, CS, RFLAGS, RSP, SS: flags 0 (restore RCX and R11), then
        // the hypercall page's iret stub pushes RCX, R11 and RAX itself.
        a.push(0);
        a.AddInstruction(Instruction.Create(Code.Mov_r64_rm64, Register.R11, LinkSlot("__keel_hypercall_page")));
        a.add(r11, IretStub);
        a.jmp(r11);
        return common;
    }

    private static void EmitTrapStubs(Assembler a, Func<string, Label> Mark, Action<string, Action> Leaf, Label common)
    {
        var stubs = default(Label);
        for (int vector = 0; vector < 256; vector++)
        {
            if (vector == 0) stubs = Mark("keel_guest_trap_stubs");
            else Mark($"__keel_guest_trap_{vector}");
            a.pop(rcx);
            a.pop(r11);
            bool pushesZero = !VectorsWithErrorCode.Contains(vector);
            if (pushesZero) a.push(0);
            a.push(vector);
            a.jmp(common);
            // pop rcx 1, pop r11 2, push imm8 2 (imm32 5 from 128), jmp rel32 5; the rest int3.
            int size = 3 + (pushesZero ? 2 : 0) + (vector < 128 ? 2 : 5) + 5;
            for (int i = size; i < TrapStubStride; i++) a.int3();
        }
        Leaf("keel_guest_trap_stubs_address", () => a.lea(rax, __[stubs]));
    }

    /// <summary>
    /// A round trip through guest user mode, for the test domain. keel_enter_user(rip, rsp, save) saves the
    /// callee-saved registers and RSP in save[0], keeps save in R15 and irets to (rip, rsp) with CS RPL 3,
    /// which the kernel takes as a return to guest user mode. keel_user_code makes a system call with RAX
    /// 0x5EC; the kernel bounces it to the syscall callback keel_user_syscall_entry, back in guest kernel
    /// mode on the stack_switch stack, which records the bounced CS and RIP in save[1] and save[2], takes the
    /// saved RSP again and returns from keel_enter_user with RAX as user mode left it.
    /// </summary>
    private static void EmitUserMode(Assembler a, Func<string, Label> Mark, Action<string, Action> Leaf, Func<string, MemoryOperand> LinkSlot)
    {
        Mark("keel_enter_user");
        foreach (var r in new[] { rbx, rbp, r12, r13, r14, r15 }) a.push(r);
        a.mov(__qword_ptr[rdx], rsp);
        a.mov(r15, rdx);
        a.push(0xE02B);          // SS
        a.push(rsi);             // RSP
        a.push(0x202);           // RFLAGS: IF, so user mode runs with events enabled
        a.push(0xE033);          // CS, RPL 3: guest user mode
        a.push(rdi);             // RIP
        a.push(0);               // flags
        a.AddInstruction(Instruction.Create(Code.Mov_r64_rm64, Register.R11, LinkSlot("__keel_hypercall_page")));
        a.add(r11, IretStub);
        a.jmp(r11);

        var syscallEntry = Mark("keel_user_syscall_entry");
        // Bounce frame: RCX (the user RIP after SYSCALL), R11, RIP, CS, RFLAGS, RSP, SS.
        a.mov(rcx, __qword_ptr[rsp + 24]);
        a.mov(__qword_ptr[r15 + 8], rcx);
        a.mov(rcx, __qword_ptr[rsp]);
        a.mov(__qword_ptr[r15 + 16], rcx);
        a.mov(rsp, __qword_ptr[r15]);
        foreach (var r in new[] { r15, r14, r13, r12, rbp, rbx }) a.pop(r);
        a.ret();

        var userCode = Mark("keel_user_code");
        a.mov(eax, 0x5EC);
        a.syscall();
        a.ud2();
        // The same round trip, reading the quadword at gs:0 in guest user mode: it shows that mode's GS base.
        var userReadGs = Mark("keel_user_read_gs");
        a.mov(rax, __qword_ptr.gs[0]);
        a.syscall();
        a.ud2();
        Leaf("keel_user_code_address", () => a.lea(rax, __[userCode]));
        Leaf("keel_user_read_gs_address", () => a.lea(rax, __[userReadGs]));
        Leaf("keel_user_syscall_entry_address", () => a.lea(rax, __[syscallEntry]));
    }

    /// <summary>
    /// Probes: each tries one instruction or one memory access and returns. They lie together between
    /// keel_probes_start and keel_probes_end, so a trap handler that sees a fault there can make the probe
    /// return (RIP = the return address on the stack) with a result that names the fault. None touches the
    /// stack before its instruction. keel_forced_cpuid (outside the range: it saves RBX) runs CPUID behind
    /// Xen's forced-emulation prefix (ud2; "xen"; cpuid) and stores EAX, EBX, ECX, EDX at result.
    /// </summary>
    private static void EmitProbes(Assembler a, Func<string, Label> Mark, Action<string, Action> Leaf)
    {
        var start = Mark("keel_probes_start");
        a.int3(); // a label per instruction: the first probe gets its own
        Leaf("keel_probe_read", () => a.movzx(eax, __byte_ptr[rdi]));
        Leaf("keel_probe_write", () => { a.mov(__byte_ptr[rdi], 0); a.xor(eax, eax); });
        Leaf("keel_probe_cli", () => { a.cli(); a.xor(eax, eax); });
        Leaf("keel_probe_hlt", () => { a.hlt(); a.xor(eax, eax); });
        Leaf("keel_probe_out", () => { a.mov(edx, 0x80); a.@out(dx, al); a.xor(eax, eax); });
        Leaf("keel_probe_wrmsr", () => { a.mov(ecx, 0xC0000080); a.xor(eax, eax); a.xor(edx, edx); a.wrmsr(); a.xor(eax, eax); });
        Leaf("keel_probe_write_cr3", () => { a.mov(cr3, rdi); a.xor(eax, eax); });
        Leaf("keel_probe_lgdt", () => { a.lgdt(__[rdi]); a.xor(eax, eax); });
        Leaf("keel_probe_read_cr3", () => a.mov(rax, cr3));
        Leaf("keel_probe_int3", () => { a.int3(); a.xor(eax, eax); });
        Leaf("keel_probe_int80", () => { a.@int(0x80); a.xor(eax, eax); });
        Leaf("keel_probe_ud2", () => { a.ud2(); a.xor(eax, eax); });
        Leaf("keel_probe_divide", () => { a.mov(eax, 1); a.xor(edx, edx); a.xor(ecx, ecx); a.div(ecx); });
        Leaf("keel_probe_sse", () => { a.xorps(xmm0, xmm0); a.xor(eax, eax); });
        Leaf("keel_probe_read_fs0", () => a.mov(rax, __qword_ptr.fs[0]));
        Leaf("keel_probe_read_gs0", () => a.mov(rax, __qword_ptr.gs[0]));
        Leaf("keel_probe_read_gs_selector", () => { a.mov(ax, gs); a.movzx(eax, ax); });
        Leaf("keel_probe_load_fs", () => { a.mov(fs, di); a.xor(eax, eax); });
        // keel_probe_taskswitch(clear_again, spins): fpu_taskswitch(1) (and fpu_taskswitch(0) if clear_again),
        // a spin of `spins` (at least 1) iterations without touching the FPU, so timer interrupts land while
        // TS is set, then one SSE instruction. Hypercalls by SYSCALL directly: nothing touches the stack.
        Leaf("keel_probe_taskswitch", () =>
        {
            var spin = a.CreateLabel();
            a.mov(r8, rdi);
            a.mov(r9, rsi);
            a.mov(edi, 1);
            a.mov(eax, 5);
            a.syscall();
            a.test(r8, r8);
            a.jz(spin);
            a.xor(edi, edi);
            a.mov(eax, 5);
            a.syscall();
            a.Label(ref spin);
            a.dec(r9);
            a.jnz(spin);
            a.xorps(xmm0, xmm0);
            a.xor(eax, eax);
        });
        var end = Mark("keel_probes_end");
        a.int3();
        Leaf("keel_probes_start_address", () => a.lea(rax, __[start]));
        Leaf("keel_probes_end_address", () => a.lea(rax, __[end]));

        // A trap on an unusable stack: the kernel cannot write the bounce frame, so the domain must be crashed.
        Mark("keel_probe_bad_stack");
        a.mov(rsp, 0x2000);
        a.ud2();

        // keel_multicall_iret(list, count, rax): multicall by SYSCALL with RSP at an iret_context that returns,
        // in guest kernel mode with events left masked, to this function's own return: an iret entry in the
        // list lands there with RAX = the context's rax. Without one, the context is dropped and RAX is
        // multicall's own result.
        Leaf("keel_multicall_iret", () =>
        {
            var landing = a.CreateLabel();
            a.mov(r8, rsp);
            a.push(0xE02B);        // ss
            a.push(r8);            // rsp: at the return address again
            a.push(0x2);           // rflags: IF clear, so the event mask stays set
            a.push(0xE030);        // cs, RPL 0: guest kernel mode
            a.lea(rax, __[landing]);
            a.push(rax);           // rip
            a.push(0);             // flags: restore rcx and r11 from the context
            a.push(rcx);
            a.push(r11);
            a.push(rdx);           // rax
            a.mov(eax, 13);
            a.syscall();
            a.add(rsp, 72);
            a.Label(ref landing);
        });

        Leaf("keel_forced_cpuid", () =>
        {
            a.push(rbx);
            a.mov(r8, rsi);
            a.mov(eax, edi);
            a.xor(ecx, ecx);
            a.ud2();
            a.db((byte)'x', (byte)'e', (byte)'n');
            a.cpuid();
            a.mov(__dword_ptr[r8], eax);
            a.mov(__dword_ptr[r8 + 4], ebx);
            a.mov(__dword_ptr[r8 + 8], ecx);
            a.mov(__dword_ptr[r8 + 12], edx);
            a.pop(rbx);
        });
    }
}

using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Keel.Image;

/// <summary>What an image is: the kernel (bare metal, ring 0) or a Linux process (freestanding code
/// compiled exactly as for the kernel, run on the build host to test it).</summary>
public enum ImageKind
{
    Kernel,
    LinuxProcess,
    /// <summary>A Keel domain: a PV64 kernel in Xen's sense, run by the kernel in ring 3.</summary>
    Domain,
}

/// <summary>
/// The machine code managed code cannot express: the runtime helpers ILC's output calls by symbol (write
/// barriers, the throw entry, P/Invoke transitions) in every image; for the kernel, the interrupt and
/// exception entry stubs and the instruction wrappers (port I/O, control registers, MSRs, descriptor
/// tables); for a Linux process, the process entry and the two system calls it needs. Each helper is a
/// leaf function with the SysV calling convention.
/// The blob is position independent. It reaches managed code and linker symbols through a link table
/// (Layout.StubLinkTable) that the linker places immediately before it; the linker script defines one
/// symbol per exported label.
/// </summary>
public static class RuntimeStubs
{
    /// <summary>Distance in bytes between consecutive interrupt entry stubs.</summary>
    public const int InterruptStubStride = 16;

    // Any base works: the code only refers to itself and to the table right before it.
    private const ulong AssemblyBase = 0x10000000;

    // Exceptions for which the CPU pushes an error code (Intel SDM vol. 3A, table 6-1).
    private static readonly HashSet<int> VectorsWithErrorCode = [8, 10, 11, 12, 13, 14, 17, 21, 29, 30];

    public static ulong LinkTableBytes(ImageKind kind) => (ulong)Layout.StubLinkTable(kind).Length * 8;

    public static AssembledCode Generate(ImageKind kind)
    {
        var a = new Assembler(64) { PreferShortBranch = false };
        var labels = new Dictionary<string, Label>();
        // Places a label at the next instruction and records it as an exported symbol.
        Label Mark(string name)
        {
            var label = a.CreateLabel(name);
            a.Label(ref label);
            labels[name] = label;
            return label;
        }
        void Leaf(string name, Action body)
        {
            Mark(name);
            body();
            a.ret();
        }
        var linkTable = Layout.StubLinkTable(kind);
        MemoryOperand LinkSlot(string name) =>
            new MemoryOperand(Register.RIP, (long)(AssemblyBase - LinkTableBytes(kind)) + 8 * Array.IndexOf(linkTable, name));

        EmitRuntimeHelpers(a, Mark, Leaf, LinkSlot);
        if (kind == ImageKind.Kernel) EmitKernel(a, labels, Mark, Leaf, LinkSlot);
        else if (kind == ImageKind.Domain) DomainStubs.Emit(a, Mark, Leaf, LinkSlot);
        else EmitLinuxProcess(a, Mark, Leaf, LinkSlot);

        // __security_cookie: the stack-protector canary ILC's code compares against. It only has to stay
        // constant for the life of the image.
        Mark("__security_cookie");
        a.dq(0x2F5C_71B3_94D0_E6A7UL);

        var code = a.AssembleAt(AssemblyBase, labels);
        if (kind == ImageKind.Kernel) CheckStride(code, "keel_interrupt_stubs", "__keel_isr_", InterruptStubStride);
        if (kind == ImageKind.Domain) CheckStride(code, "keel_guest_trap_stubs", "__keel_guest_trap_", DomainStubs.TrapStubStride);
        return code;
    }

    /// <summary>Stub n of a table must start exactly n strides after the first: the kernel and the guest compute their addresses that way.</summary>
    private static void CheckStride(AssembledCode code, string first, string prefix, int stride)
    {
        for (int vector = 1; vector < 256; vector++)
        {
            ulong expected = code.Labels[first] + (ulong)(vector * stride);
            if (code.Labels[prefix + vector] != expected)
            {
                throw new InvalidOperationException($"stub {prefix}{vector} is not at its {stride}-byte slot");
            }
        }
    }

    private static void EmitRuntimeHelpers(Assembler a, Func<string, Label> Mark, Action<string, Action> Leaf, Func<string, MemoryOperand> LinkSlot)
    {
        // RhpThrowEx(exception): with no unwinder, report it; pass the throw site (our return address) and
        // the thrower's stack pointer. A jump, so the managed reporter sees a normal call frame.
        Mark("RhpThrowEx");
        a.mov(rsi, __qword_ptr[rsp]);
        a.lea(rdx, __[rsp + 8]);
        a.AddInstruction(Instruction.Create(Code.Jmp_rm64, LinkSlot("keel_throw")));
        Mark("RhpRethrow");
        a.mov(rsi, __qword_ptr[rsp]);
        a.lea(rdx, __[rsp + 8]);
        a.AddInstruction(Instruction.Create(Code.Jmp_rm64, LinkSlot("keel_throw")));
        // Write barriers: there is no collector, so a reference store is a plain store.
        Leaf("RhpAssignRef", () => a.mov(__qword_ptr[rdi], rsi));
        Leaf("RhpCheckedAssignRef", () => a.mov(__qword_ptr[rdi], rsi));
        // RhpByRefAssignRef: copy one reference from [rsi] to [rdi] and advance both (a custom convention
        // that may trash rcx).
        Leaf("RhpByRefAssignRef", () =>
        {
            a.mov(rcx, __qword_ptr[rsi]);
            a.mov(__qword_ptr[rdi], rcx);
            a.add(rdi, 8);
            a.add(rsi, 8);
        });
        // GC transitions around calls into and out of native code: nothing to do without a collector.
        Leaf("RhpPInvoke", () => { });
        Leaf("RhpPInvokeReturn", () => { });
        Leaf("RhpReversePInvoke", () => { });
        Leaf("RhpReversePInvokeReturn", () => { });
    }

    private static void EmitKernel(Assembler a, Dictionary<string, Label> labels, Func<string, Label> Mark, Action<string, Action> Leaf, Func<string, MemoryOperand> LinkSlot)
    {
        var common = a.CreateLabel();
        // Created now because keel_interrupt_stubs_address refers to it before the stubs are emitted.
        var table = a.CreateLabel("keel_interrupt_stubs");

        // Common path. On entry the stack holds, from the top: vector, error code, and the CPU's frame
        // (rip, cs, rflags, rsp, ss), which the CPU aligned to 16 bytes first (SDM 3A, 6.14.2). After 15
        // register pushes the stack is 16-aligned again; the FXSAVE area keeps that and protects the
        // interrupted code's SSE registers, which compiled managed code uses freely. A guest may run with
        // CR0.TS set (fpu_taskswitch), under which FXSAVE and every SSE instruction raise #NM: CLTS first.
        a.Label(ref common);
        foreach (var r in new[] { rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15 }) a.push(r);
        a.sub(rsp, 512);
        a.clts();
        a.fxsave64(__[rsp]);
        a.lea(rdi, __[rsp + 512]);
        a.cld();
        a.AddInstruction(Instruction.Create(Code.Call_rm64, LinkSlot("keel_interrupt")));
        // The handler may have replaced the frame and the FXSAVE area with another context (a context
        // switch, or entry to the idle loop): the exit restores whatever is there now, after
        // keel_interrupt_exit(frame) has loaded what the frame does not carry and said in EAX whether the
        // resumed guest wants CR0.TS, which can only be set once FXRSTOR is done.
        a.lea(rdi, __[rsp + 512]);
        a.AddInstruction(Instruction.Create(Code.Call_rm64, LinkSlot("keel_interrupt_exit")));
        a.fxrstor64(__[rsp]);
        var keepTs = a.CreateLabel();
        a.test(eax, 1);
        a.jz(keepTs);
        a.mov(rax, cr0);
        a.or(rax, 8);
        a.mov(cr0, rax);
        a.Label(ref keepTs);
        a.add(rsp, 512);
        foreach (var r in new[] { r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax }) a.pop(r);
        a.add(rsp, 16);
        a.iretq();

        EmitGuestEntries(a, Mark, Leaf, common);

        // keel_interrupt_stubs_address(): where stub 0 is; stub n is at that address + 16 * n.
        Leaf("keel_interrupt_stubs_address", () => { a.lea(rax, __[table]); });

        // Kernel instruction wrappers (the kernel's Arch/X64 layer binds to these names).
        Leaf("keel_inb", () => { a.mov(edx, edi); a.xor(eax, eax); a.@in(al, dx); });
        Leaf("keel_inw", () => { a.mov(edx, edi); a.xor(eax, eax); a.@in(ax, dx); });
        Leaf("keel_ind", () => { a.mov(edx, edi); a.@in(eax, dx); });
        Leaf("keel_outb", () => { a.mov(edx, edi); a.mov(eax, esi); a.@out(dx, al); });
        Leaf("keel_outw", () => { a.mov(edx, edi); a.mov(eax, esi); a.@out(dx, ax); });
        Leaf("keel_outd", () => { a.mov(edx, edi); a.mov(eax, esi); a.@out(dx, eax); });
        Leaf("keel_read_cr0", () => a.mov(rax, cr0));
        Leaf("keel_read_cr2", () => a.mov(rax, cr2));
        Leaf("keel_read_cr3", () => a.mov(rax, cr3));
        Leaf("keel_read_cr4", () => a.mov(rax, cr4));
        Leaf("keel_write_cr0", () => a.mov(cr0, rdi));
        Leaf("keel_write_cr3", () => a.mov(cr3, rdi));
        Leaf("keel_write_cr4", () => a.mov(cr4, rdi));
        Leaf("keel_read_msr", () =>
        {
            a.mov(ecx, edi);
            a.rdmsr();
            a.shl(rdx, 32);
            a.or(rax, rdx);
        });
        Leaf("keel_write_msr", () =>
        {
            a.mov(ecx, edi);
            a.mov(eax, esi);
            a.mov(rdx, rsi);
            a.shr(rdx, 32);
            a.wrmsr();
        });
        // keel_cpuid(leaf, subleaf, uint* result): result[0..3] = eax, ebx, ecx, edx. rbx is callee-saved.
        Leaf("keel_cpuid", () =>
        {
            a.push(rbx);
            a.mov(r8, rdx);
            a.mov(eax, edi);
            a.mov(ecx, esi);
            a.cpuid();
            a.mov(__dword_ptr[r8], eax);
            a.mov(__dword_ptr[r8 + 4], ebx);
            a.mov(__dword_ptr[r8 + 8], ecx);
            a.mov(__dword_ptr[r8 + 12], edx);
            a.pop(rbx);
        });
        Leaf("keel_rdtsc", () =>
        {
            a.rdtsc();
            a.shl(rdx, 32);
            a.or(rax, rdx);
        });
        // keel_load_gdt(pointer, code selector, data selector): LGDT, reload the data segment registers,
        // then CS through a far return (the only way to load CS in long mode without a far jump target).
        Mark("keel_load_gdt");
        a.lgdt(__[rdi]);
        a.LoadDataSegments(dx);
        a.pop(rax);
        a.push(rsi);
        a.push(rax);
        a.AddInstruction(Instruction.Create(Code.Retfq));
        Leaf("keel_load_idt", () => a.lidt(__[rdi]));
        Leaf("keel_load_tr", () => a.ltr(di));
        Leaf("keel_load_fs", () => a.mov(fs, di));
        Leaf("keel_load_gs", () => a.mov(gs, di));
        Leaf("keel_read_fs", () => { a.mov(ax, fs); a.movzx(eax, ax); });
        Leaf("keel_read_gs", () => { a.mov(ax, gs); a.movzx(eax, ax); });
        Leaf("keel_invlpg", () => a.invlpg(__[rdi]));
        Leaf("keel_wbinvd", () => a.wbinvd());
        Leaf("keel_enable_interrupts", () => a.sti());
        Leaf("keel_disable_interrupts", () => a.cli());
        // keel_wait_for_interrupt: STI takes effect after the next instruction, so "sti; hlt" cannot lose
        // an interrupt that arrives between the two.
        Leaf("keel_wait_for_interrupt", () => { a.sti(); a.hlt(); });
        Leaf("keel_pause", () => a.pause());
        Leaf("keel_read_rflags", () => { a.pushfq(); a.pop(rax); });
        Mark("keel_halt_forever");
        a.cli();
        var again = a.CreateLabel();
        a.Label(ref again);
        a.hlt();
        a.jmp(again);

        // Interrupt entry: every vector gets a 16-byte stub that makes the frame uniform (a zero error code
        // where the CPU pushes none), pushes the vector and joins the common path. The stubs come after all
        // other code, more than 127 bytes from the common path, so every jump is encoded as rel32 and every
        // stub has the same size (checked below).
        for (int vector = 0; vector < 256; vector++)
        {
            if (vector == 0)
            {
                a.Label(ref table);
                labels["keel_interrupt_stubs"] = table;
                labels["__keel_isr_0"] = table;
            }
            else
            {
                Mark($"__keel_isr_{vector}");
            }
            bool pushesZero = !VectorsWithErrorCode.Contains(vector);
            if (pushesZero) a.push(0);
            a.push(vector);
            a.jmp(common);
            // Encoded sizes: push imm8 is 2 bytes, push imm32 5, jmp rel32 5; pad the rest with int3.
            int size = (pushesZero ? 2 : 0) + (vector < 128 ? 2 : 5) + 5;
            for (int i = size; i < InterruptStubStride; i++) a.int3();
        }

    }

    /// <summary>Frame "vector" values for entries that are not interrupts: SYSCALL from 64-bit and from compatibility mode.</summary>
    public const int SyscallVector = 0x100, CompatSyscallVector = 0x101;

    // Xen's flat ring-3 selectors (xen/include/public/arch-x86/xen-x86_64.h): a SYSCALL always comes from one
    // of them, so the frame can name them without reading a segment register.
    private const int GuestCode64 = 0xE033, GuestCode32 = 0xE023, GuestData = 0xE02B;

    /// <summary>
    /// The ways into and out of guest context besides interrupts.
    /// SYSCALL (AMD APM vol. 2, 6.1.1; SDM 3A 5.8.8) leaves RSP at the guest's stack and interrupts off (FMASK
    /// clears IF): SWAPGS exposes the per-CPU area (KERNEL_GS_BASE) whose word 0 is a scratch slot and word 8
    /// the kernel stack top; the stub saves the guest RSP there, takes the kernel stack, swaps GS back (the
    /// kernel never uses GS, so every path in runs with the guest's) and builds the same frame an interrupt
    /// from ring 3 would have built at the same place (RCX holds the return RIP, R11 the RFLAGS), so one exit
    /// path, IRETQ, serves both. keel_enter_idle(stack top) abandons the current stack and halts with
    /// interrupts on: an interrupt taken there pushes its frame exactly where one from ring 3 lands, so the
    /// handler can turn the idle loop into a guest by rewriting the frame, and back.
    /// </summary>
    private static void EmitGuestEntries(Assembler a, Func<string, Label> Mark, Action<string, Action> Leaf, Label common)
    {
        Label SyscallEntry(string name, int codeSelector, int vector)
        {
            var entry = Mark(name);
            a.swapgs();
            a.mov(__qword_ptr.gs[0], rsp);
            a.mov(rsp, __qword_ptr.gs[8]);
            a.push(GuestData);
            a.push(__qword_ptr.gs[0]);
            a.swapgs();
            a.push(r11);
            a.push(codeSelector);
            a.push(rcx);
            a.push(0);
            a.push(vector);
            a.jmp(common);
            return entry;
        }
        var syscall64 = SyscallEntry("keel_syscall64", GuestCode64, SyscallVector);
        var syscall32 = SyscallEntry("keel_syscall32", GuestCode32, CompatSyscallVector);
        Leaf("keel_syscall64_address", () => a.lea(rax, __[syscall64]));
        Leaf("keel_syscall32_address", () => a.lea(rax, __[syscall32]));

        Mark("keel_enter_idle");
        a.mov(rsp, rdi);
        var idle = a.CreateLabel("keel_idle_loop");
        a.Label(ref idle);
        a.sti();
        a.hlt();
        a.jmp(idle);
        Leaf("keel_idle_loop_address", () => a.lea(rax, __[idle]));
    }

    /// <summary>
    /// The Linux process entry: _start aligns the stack (SysV ABI: 16 bytes before the call), calls
    /// keel_main(modules start, modules end, heap start, heap end) and exits with its result. Two system
    /// calls (x86-64 Linux numbers: write 1, exit_group 231) are the process's only contact with the host.
    /// </summary>
    private static void EmitLinuxProcess(Assembler a, Func<string, Label> Mark, Action<string, Action> Leaf, Func<string, MemoryOperand> LinkSlot)
    {
        Mark("_start");
        a.xor(ebp, ebp);
        a.and(rsp, -16);
        a.AddInstruction(Instruction.Create(Code.Mov_r64_rm64, Register.RDI, LinkSlot("__keel_modules_start")));
        a.AddInstruction(Instruction.Create(Code.Mov_r64_rm64, Register.RSI, LinkSlot("__keel_modules_end")));
        a.AddInstruction(Instruction.Create(Code.Mov_r64_rm64, Register.RDX, LinkSlot("__keel_heap_start")));
        a.AddInstruction(Instruction.Create(Code.Mov_r64_rm64, Register.RCX, LinkSlot("__keel_heap_end")));
        a.AddInstruction(Instruction.Create(Code.Call_rm64, LinkSlot("keel_main")));
        a.mov(edi, eax);
        a.mov(eax, 231);
        a.syscall();
        a.hlt();
        // linux_write(fd, buffer, length) -> bytes written or -errno. The syscall clobbers rcx and r11 only.
        Leaf("linux_write", () => { a.mov(eax, 1); a.syscall(); });
        Mark("linux_exit");
        a.mov(eax, 231);
        a.syscall();
        a.hlt();
    }
}

using System;
using Keel.Kernel.Arch.X64;
using Keel.Kernel.Hypercalls;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;

namespace Keel.Kernel.Traps
{
    /// <summary>
    /// The instructions a PV kernel expects the hypervisor to carry out for it (xen/arch/x86/pv/emul-inv-op.c,
    /// emul-priv-op.c): CPUID behind Xen's forced-emulation prefix (ud2; "xen"; cpuid), so the guest sees the
    /// hypervisor's view of the processor, and `mov reg, cr3`, which returns the machine address of the
    /// table the guest runs on, and IN/OUT on the ports the domain was given. Everything else privileged is
    /// left to the guest's #GP handler.
    /// </summary>
    internal static unsafe class Emulation
    {
        private const int ForcedCpuidLength = 7;

        internal static bool TryForcedCpuid(Vcpu vcpu, InterruptFrame* frame)
        {
            Span<byte> code = stackalloc byte[ForcedCpuidLength];
            if (!GuestMemory.TryRead(vcpu, frame->Rip, code)) return false;
            if (code[0] != 0x0F || code[1] != 0x0B || code[2] != (byte)'x' || code[3] != (byte)'e' || code[4] != (byte)'n' || code[5] != 0x0F || code[6] != 0xA2) return false;
            Processor.CpuidResult r = GuestCpuid.Leaf((uint)frame->Rax, (uint)frame->Rcx);
            frame->Rax = r.Eax;
            frame->Rbx = r.Ebx;
            frame->Rcx = r.Ecx;
            frame->Rdx = r.Edx;
            frame->Rip += ForcedCpuidLength;
            return true;
        }

        /// <summary>
        /// `mov r64, cr3`: an optional REX prefix (0x40-0x4F; REX.B extends the register), 0F 20, then a
        /// ModRM byte with mod = 11 and reg = 3 (Intel SDM vol. 2B, MOV Control Registers). Xen answers with
        /// the current table's machine address.
        /// </summary>
        internal static bool TryPrivileged(Vcpu vcpu, InterruptFrame* frame)
        {
            Span<byte> code = stackalloc byte[4];
            if (!GuestMemory.TryRead(vcpu, frame->Rip, code.Slice(0, 3))) return false;
            int at = 0;
            int rexB = 0;
            if ((code[0] & 0xF0) == 0x40)
            {
                rexB = code[0] & 1;
                at = 1;
                if (!GuestMemory.TryRead(vcpu, frame->Rip + 3, code.Slice(3, 1))) return false;
            }
            if (code[at] != 0x0F || code[at + 1] != 0x20) return false;
            byte modrm = code[at + 2];
            if (modrm >> 6 != 3 || ((modrm >> 3) & 7) != 3) return false;
            SetRegister(frame, (modrm & 7) | (rexB << 3), vcpu.CurrentTable);
            frame->Rip += (ulong)(at + 3);
            return true;
        }

        /// <summary>
        /// IN and OUT on ports the domain was given (XEN_DOMCTL_ioport_permission), as Xen's emulate_privileged_op
        /// does for a PV guest, whose ring-3 kernel faults on every port access: E4/E5 and E6/E7 with an
        /// 8-bit port, EC/ED and EE/EF with the port in DX, an optional 0x66 prefix making E5/E7/ED/EF 16-bit
        /// (Intel SDM vol. 2A, IN and OUT). A byte or word IN replaces only AL or AX; a dword IN writes EAX and
        /// clears the upper half of RAX, as the processor does. A port outside the permission is not
        /// emulated: the guest takes the #GP.
        /// </summary>
        internal static bool TryPortIo(Vcpu vcpu, InterruptFrame* frame)
        {
            Span<byte> code = stackalloc byte[3];
            if (!GuestMemory.TryRead(vcpu, frame->Rip, code.Slice(0, 2))) return false;
            int at = code[0] == 0x66 ? 1 : 0;
            if (at == 1 && !GuestMemory.TryRead(vcpu, frame->Rip + 2, code.Slice(2, 1))) return false;
            byte opcode = code[at];
            if (opcode < 0xE4 || (opcode > 0xE7 && opcode < 0xEC) || opcode > 0xEF) return false;
            bool immediate = opcode <= 0xE7;
            bool output = (opcode & 2) != 0;
            int width = (opcode & 1) == 0 ? 1 : at == 1 ? 2 : 4;
            ushort port = immediate ? code[at + 1] : (ushort)frame->Rdx;
            if (!Io.MachineIo.Permissions.Permits(vcpu.Domain.Id, Io.IoResource.Ports, port, (ulong)port + (ulong)width - 1)) return false;
            var device = new Port(port);
            if (output)
            {
                if (width == 1) device.Write8((byte)frame->Rax);
                else if (width == 2) device.Write16((ushort)frame->Rax);
                else device.Write32((uint)frame->Rax);
            }
            else if (width == 1) frame->Rax = (frame->Rax & ~0xFFUL) | device.Read8();
            else if (width == 2) frame->Rax = (frame->Rax & ~0xFFFFUL) | device.Read16();
            else frame->Rax = device.Read32();
            frame->Rip += (ulong)(at + (immediate ? 2 : 1));
            return true;
        }

        /// <summary>General register n in the ModRM numbering (Intel SDM vol. 2A, table 2-2 with REX).</summary>
        private static void SetRegister(InterruptFrame* frame, int register, ulong value)
        {
            switch (register)
            {
                case 0: frame->Rax = value; break;
                case 1: frame->Rcx = value; break;
                case 2: frame->Rdx = value; break;
                case 3: frame->Rbx = value; break;
                case 4: frame->Rsp = value; break;
                case 5: frame->Rbp = value; break;
                case 6: frame->Rsi = value; break;
                case 7: frame->Rdi = value; break;
                case 8: frame->R8 = value; break;
                case 9: frame->R9 = value; break;
                case 10: frame->R10 = value; break;
                case 11: frame->R11 = value; break;
                case 12: frame->R12 = value; break;
                case 13: frame->R13 = value; break;
                case 14: frame->R14 = value; break;
                default: frame->R15 = value; break;
            }
        }
    }

    /// <summary>
    /// CPUID as a PV guest sees it (Xen's guest_cpuid, xen/arch/x86/cpuid.c): the hypervisor leaves at
    /// 0x40000000 ("XenVMMXenVMM", the version, one hypercall page), the hypervisor-present bit in leaf 1,
    /// and no virtualization extensions or MONITOR, which a PV guest cannot use.
    /// </summary>
    internal static class GuestCpuid
    {
        private const uint HypervisorBase = 0x40000000;

        internal static Processor.CpuidResult Leaf(uint leaf, uint subleaf)
        {
            Processor.CpuidResult r = default;
            switch (leaf)
            {
                case HypervisorBase:
                    r.Eax = HypervisorBase + 2;
                    r.Ebx = 0x566E6558; // "XenV"
                    r.Ecx = 0x65584D4D; // "MMXe"
                    r.Edx = 0x4D4D566E; // "nVMM"
                    return r;
                case HypervisorBase + 1:
                    r.Eax = (XenVersion.Major << 16) | XenVersion.Minor;
                    return r;
                case HypervisorBase + 2:
                    // One hypercall page, installable through MSR 0x40000000 (which PV guests do not need).
                    r.Eax = 1;
                    r.Ebx = HypervisorBase;
                    return r;
            }
            if (leaf > HypervisorBase && leaf < HypervisorBase + 0x10000) return r;
            r = Processor.Cpuid(leaf, subleaf);
            if (leaf == 1)
            {
                // ECX: bit 3 MONITOR, bit 5 VMX off; bit 31, hypervisor present, on (Intel SDM vol. 2A, table 3-10).
                r.Ecx = (r.Ecx & ~((1u << 3) | (1u << 5))) | (1u << 31);
            }
            else if (leaf == 0x80000001)
            {
                r.Ecx &= ~(1u << 2); // SVM (AMD APM vol. 3, CPUID Fn8000_0001_ECX)
            }
            return r;
        }
    }
}

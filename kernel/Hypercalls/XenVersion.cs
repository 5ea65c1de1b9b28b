using System;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// xen_version (17), as xen/common/kernel.c answers it (layouts in xen/include/public/version.h). Keel
    /// speaks the interface of Xen 4.17 and says so; the extra version names it.
    /// </summary>
    internal static class XenVersion
    {
        internal const int Major = 4, Minor = 17;
        internal const string ExtraVersion = ".0-keel";

        // XENFEAT_* bits (xen/include/public/features.h) Keel offers a PV64 guest: only pae_pgdir_above_4gb (a
        // 64-bit guest's tables may live anywhere), and dom0 for the control domain. Writable page tables,
        // auto-translation and the others are not offered because Keel does not do them.
        private const uint PaePgdirAbove4gb = 1u << 4, Dom0 = 1u << 11;

        /// <summary>What a domain is offered (the domain builder refuses a kernel that requires more).</summary>
        internal static uint OfferedFeatures(bool privileged) => PaePgdirAbove4gb | (privileged ? Dom0 : 0);

        internal static long Handle(Vcpu vcpu, in HypercallArguments call)
        {
            ulong buffer = call.A2;
            switch ((VersionCommand)call.A1)
            {
                case VersionCommand.Version: return (Major << 16) | Minor;
                case VersionCommand.ExtraVersion: return WriteString(vcpu, buffer, ExtraVersion, 16);
                case VersionCommand.CompileInfo: return WriteCompileInfo(vcpu, buffer);
                case VersionCommand.Capabilities: return WriteString(vcpu, buffer, "xen-3.0-x86_64", 1024);
                case VersionCommand.Changeset: return WriteString(vcpu, buffer, "keel " + Kernel.Version, 64);
                case VersionCommand.PlatformParameters: return WriteQuad(vcpu, buffer, Boot.KernelLayout.GuestMachineToPhysical);
                case VersionCommand.GetFeatures: return WriteFeatures(vcpu, buffer);
                case VersionCommand.PageSize: return 4096;
                case VersionCommand.GuestHandle: return WriteString(vcpu, buffer, "", 16);
                case VersionCommand.CommandLine: return vcpu.Domain.Privileged ? WriteString(vcpu, buffer, Kernel.CommandLine, 1024) : Errno.EPERM;
                case VersionCommand.BuildId: return Errno.ENODATA;
                default: return Errno.ENOSYS;
            }
        }

        /// <summary>A fixed-size, NUL-padded char array as the guest expects it.</summary>
        private static long WriteString(Vcpu vcpu, ulong buffer, string value, int size)
        {
            Span<byte> bytes = stackalloc byte[size];
            bytes.Clear();
            for (int i = 0; i < value.Length && i < size - 1; i++) bytes[i] = (byte)value[i];
            return GuestMemory.TryWrite(vcpu, buffer, bytes) ? 0 : Errno.EFAULT;
        }

        private static unsafe long WriteQuad(Vcpu vcpu, ulong buffer, ulong value) =>
            GuestMemory.TryWrite(vcpu, buffer, new ReadOnlySpan<byte>(&value, 8)) ? 0 : Errno.EFAULT;

        /// <summary>xen_compile_info: compiler[64], compile_by[16], compile_domain[32], compile_date[32].</summary>
        private static long WriteCompileInfo(Vcpu vcpu, ulong buffer)
        {
            Span<byte> info = stackalloc byte[144];
            info.Clear();
            const string Compiler = "NativeAOT (C#)";
            for (int i = 0; i < Compiler.Length; i++) info[i] = (byte)Compiler[i];
            return GuestMemory.TryWrite(vcpu, buffer, info) ? 0 : Errno.EFAULT;
        }

        /// <summary>xen_feature_info {u32 submap_idx (in), u32 submap (out)}: only submap 0 has bits.</summary>
        private static unsafe long WriteFeatures(Vcpu vcpu, ulong buffer)
        {
            if (!GuestMemory.TryRead(vcpu, buffer, out uint index)) return Errno.EFAULT;
            uint submap = index == 0 ? OfferedFeatures(vcpu.Domain.Privileged) : 0;
            return GuestMemory.TryWrite(vcpu, buffer + 4, new ReadOnlySpan<byte>(&submap, 4)) ? 0 : Errno.EFAULT;
        }
    }
}

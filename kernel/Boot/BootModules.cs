using System;
using Keel.Kernel.Memory;

namespace Keel.Kernel.Boot
{
    /// <summary>
    /// The files GRUB loaded beside the kernel, in grub.cfg order, kept for the life of the kernel (their
    /// frames are reserved): the control domain builds domains from them by index. A module's string is
    /// what follows the file on its module2 line.
    /// </summary>
    internal static unsafe class BootModules
    {
        private static BootModule[] s_modules = new BootModule[0];

        internal static void Keep(BootModule[] modules) => s_modules = modules;

        internal static int Count => s_modules.Length;

        internal static bool TryGet(ulong index, out BootModule module)
        {
            module = default;
            if (index >= (ulong)s_modules.Length) return false;
            module = s_modules[index];
            return true;
        }

        /// <summary>A module's bytes through the direct map; empty for a module GRUB gave no bytes.</summary>
        internal static ReadOnlySpan<byte> Bytes(BootModule module) =>
            module.End > module.Start && module.End - module.Start < int.MaxValue
                ? new ReadOnlySpan<byte>(DirectMap.Pointer(module.Start), (int)(module.End - module.Start))
                : default;

        /// <summary>The first module whose string is name or starts with name and a space; -1 if none.</summary>
        internal static int Find(string name)
        {
            for (int i = 0; i < s_modules.Length; i++)
            {
                string s = s_modules[i].Name;
                if (s == name || (s.Length > name.Length && s[name.Length] == ' ' && s.StartsWith(name))) return i;
            }
            return -1;
        }
    }
}

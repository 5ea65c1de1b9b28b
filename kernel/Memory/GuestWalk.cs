namespace Keel.Kernel.Memory
{
    /// <summary>
    /// Translates a guest virtual address the way the CPU would for the guest (Intel SDM vol. 3A, 4.5), but in
    /// software, so the kernel never takes a fault on a guest's pointer: every level must be present and
    /// user-accessible (a PV guest's kernel runs in ring 3, so whatever it may touch has the user bit), and
    /// writable at every level for a write. Large pages are refused: direct paging never admits them.
    /// </summary>
    public static class GuestWalk
    {
        private const ulong Present = 1, Writable = 2, User = 4, Large = 0x80;
        private const ulong AddressMask = 0x000F_FFFF_FFFF_F000;

        public static bool TryTranslate<TMemory>(TMemory memory, ulong root, ulong virtualAddress, bool write, out ulong physicalAddress)
            where TMemory : struct, IPhysicalMemory
        {
            physicalAddress = 0;
            if (!AddressSpace<TMemory>.IsCanonical(virtualAddress)) return false;
            ulong required = Present | User | (write ? Writable : 0);
            ulong table = root;
            for (int level = 4; level >= 1; level--)
            {
                ulong entry = memory.Table(table)[(int)((virtualAddress >> (12 + 9 * (level - 1))) & 511)];
                if ((entry & required) != required) return false;
                if (level > 1 && (entry & Large) != 0) return false;
                table = entry & AddressMask;
            }
            physicalAddress = table | (virtualAddress & 0xFFF);
            return true;
        }
    }
}

using System;

namespace Keel.Kernel.Memory
{
    /// <summary>x86-64 page-table entry bits (Intel SDM vol. 3A, 4.5, tables 4-14 to 4-20).</summary>
    [Flags]
    public enum PageFlags : ulong
    {
        None = 0,
        Present = 1UL << 0,
        Writable = 1UL << 1,
        User = 1UL << 2,
        WriteThrough = 1UL << 3,
        CacheDisable = 1UL << 4,
        Accessed = 1UL << 5,
        Dirty = 1UL << 6,
        Large = 1UL << 7,
        Global = 1UL << 8,
        NoExecute = 1UL << 63,
    }

    public enum MapResult
    {
        Mapped,
        NotAligned,
        NotCanonical,
        WritableAndExecutable,
        AlreadyMapped,
        OutOfFrames,
    }

    /// <summary>How page-table code reaches a table given its physical address.</summary>
    public interface IPhysicalMemory
    {
        /// <summary>The 512 entries of the table page at the given physical address.</summary>
        Span<ulong> Table(ulong physicalAddress);
    }

    /// <summary>
    /// A four-level address space (PML4, PDPT, PD, PT). New intermediate tables come from the frame
    /// allocator, zeroed, and are created permissive (present, writable, user if the leaf is), so a leaf's
    /// own flags decide access. Mapping refuses writable-and-executable leaves (W^X), non-canonical or
    /// unaligned addresses, and replacing an existing mapping.
    /// </summary>
    public sealed class AddressSpace<TMemory> where TMemory : struct, IPhysicalMemory
    {
        public const ulong PageSize = 4096;
        public const ulong LargePageSize = 2 * 1024 * 1024;
        private const ulong AddressMask = 0x000F_FFFF_FFFF_F000;

        private readonly FrameAllocator _frames;
        private TMemory _memory;

        public AddressSpace(FrameAllocator frames, TMemory memory, ulong root)
        {
            _frames = frames;
            _memory = memory;
            Root = root;
        }

        /// <summary>Creates an empty address space with a fresh PML4; false if no frame is free.</summary>
        public static bool TryCreate(FrameAllocator frames, TMemory memory, out AddressSpace<TMemory> space)
        {
            space = null;
            if (!frames.TryAllocate(out ulong root)) return false;
            memory.Table(root).Clear();
            space = new AddressSpace<TMemory>(frames, memory, root);
            return true;
        }

        /// <summary>Physical address of the PML4 (the value for CR3).</summary>
        public ulong Root { get; }

        /// <summary>Bytes mapped so far by this object.</summary>
        public ulong MappedBytes { get; private set; }

        public MapResult Map(ulong virtualAddress, ulong physicalAddress, PageFlags flags) =>
            MapAt(virtualAddress, physicalAddress, flags, PageSize, 1);

        public MapResult MapLarge(ulong virtualAddress, ulong physicalAddress, PageFlags flags) =>
            MapAt(virtualAddress, physicalAddress, flags | PageFlags.Large, LargePageSize, 2);

        /// <summary>Walks the tables; false if the address is not mapped. Handles 2 MiB and 1 GiB leaves.</summary>
        public bool Translate(ulong virtualAddress, out ulong physicalAddress, out PageFlags flags)
        {
            physicalAddress = 0;
            flags = PageFlags.None;
            if (!IsCanonical(virtualAddress)) return false;
            ulong table = Root;
            for (int level = 4; level >= 1; level--)
            {
                ulong entry = _memory.Table(table)[Index(virtualAddress, level)];
                if ((entry & (ulong)PageFlags.Present) == 0) return false;
                bool leaf = level == 1 || (level <= 3 && (entry & (ulong)PageFlags.Large) != 0);
                if (leaf)
                {
                    ulong pageSize = 1UL << (12 + 9 * (level - 1));
                    ulong frameMask = AddressMask & ~(pageSize - 1);
                    physicalAddress = (entry & frameMask) | (virtualAddress & (pageSize - 1));
                    flags = (PageFlags)(entry & ~AddressMask);
                    return true;
                }
                table = entry & AddressMask;
            }
            return false;
        }

        public static bool IsCanonical(ulong address)
        {
            ulong top = address >> 47;
            return top == 0 || top == 0x1FFFF;
        }

        private MapResult MapAt(ulong virtualAddress, ulong physicalAddress, PageFlags flags, ulong size, int leafLevel)
        {
            if (virtualAddress % size != 0 || physicalAddress % size != 0 || (physicalAddress & ~AddressMask & ~(size - 1)) != 0)
            {
                return MapResult.NotAligned;
            }
            if (!IsCanonical(virtualAddress)) return MapResult.NotCanonical;
            if ((flags & PageFlags.Writable) != 0 && (flags & PageFlags.NoExecute) == 0) return MapResult.WritableAndExecutable;

            ulong table = Root;
            for (int level = 4; level > leafLevel; level--)
            {
                Span<ulong> entries = _memory.Table(table);
                int index = Index(virtualAddress, level);
                ulong entry = entries[index];
                if ((entry & (ulong)PageFlags.Present) == 0)
                {
                    if (!_frames.TryAllocate(out ulong fresh)) return MapResult.OutOfFrames;
                    _memory.Table(fresh).Clear();
                    entry = fresh | (ulong)(PageFlags.Present | PageFlags.Writable | (flags & PageFlags.User));
                    entries[index] = entry;
                }
                else if ((entry & (ulong)PageFlags.Large) != 0)
                {
                    return MapResult.AlreadyMapped;
                }
                else if ((flags & PageFlags.User) != 0 && (entry & (ulong)PageFlags.User) == 0)
                {
                    entries[index] = entry | (ulong)PageFlags.User;
                }
                table = entry & AddressMask;
            }

            Span<ulong> leaves = _memory.Table(table);
            int leafIndex = Index(virtualAddress, leafLevel);
            if ((leaves[leafIndex] & (ulong)PageFlags.Present) != 0) return MapResult.AlreadyMapped;
            leaves[leafIndex] = physicalAddress | (ulong)(flags | PageFlags.Present);
            MappedBytes += size;
            return MapResult.Mapped;
        }

        private static int Index(ulong virtualAddress, int level) => (int)((virtualAddress >> (12 + 9 * (level - 1))) & 511);
    }
}

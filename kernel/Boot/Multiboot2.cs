using System;
using System.Buffers.Binary;

namespace Keel.Kernel.Boot
{
    /// <summary>A range of physical memory from the loader's memory map (Multiboot2 spec 3.6.8).</summary>
    public struct MemoryRegion
    {
        public ulong Base;
        public ulong Length;
        public MemoryKind Kind;

        public ulong End => Base + Length;
    }

    /// <summary>Memory map entry types (Multiboot2 spec 3.6.8).</summary>
    public enum MemoryKind : uint
    {
        Usable = 1,
        Reserved = 2,
        AcpiReclaimable = 3,
        AcpiNvs = 4,
        Defective = 5,
    }

    /// <summary>A file the loader placed in memory for the kernel (a "module2" line in grub.cfg).</summary>
    public struct BootModule
    {
        public ulong Start;
        public ulong End;
        public string Name;
    }

    /// <summary>Kinds of display the loader may leave set up (Multiboot2 spec 3.6.12, framebuffer_type).</summary>
    public enum FramebufferKind : byte
    {
        Indexed = 0,
        Rgb = 1,
        EgaText = 2,
    }

    /// <summary>The display the loader left set up (Multiboot2 spec 3.6.12). For EGA text, width and height
    /// count characters and the pitch is bytes per row of characters.</summary>
    public struct Framebuffer
    {
        public ulong Address;
        public uint Pitch;
        public uint Width;
        public uint Height;
        public byte BitsPerPixel;
        public FramebufferKind Kind;
    }

    public enum Multiboot2Error
    {
        None,
        TooShort,
        BadTotalSize,
        BadTagSize,
        TagOutOfBounds,
        BadMemoryMap,
        MissingEndTag,
    }

    /// <summary>
    /// The boot information structure a Multiboot2 loader hands the kernel (Multiboot2 spec section 3.6):
    /// u32 total_size, u32 reserved, then 8-byte aligned tags {u32 type, u32 size, payload} ending with a
    /// type-0 tag. Parsing is defensive: every size is checked against the buffer, and a malformed
    /// structure is reported as an error, never read past.
    /// </summary>
    public sealed class Multiboot2Info
    {
        private const uint TagEnd = 0, TagCommandLine = 1, TagLoaderName = 2, TagModule = 3, TagMemoryMap = 6, TagFramebuffer = 8;
        private const int MaxRegions = 128;
        private const int MaxModules = 32;

        public string CommandLine = "";
        public string LoaderName = "";
        public MemoryRegion[] Regions = new MemoryRegion[0];
        public BootModule[] Modules = new BootModule[0];
        public int TotalSize;

        /// <summary>Whether the loader described a display; <see cref="Display"/> is meaningful only then.</summary>
        public bool HasDisplay;
        public Framebuffer Display;

        /// <summary>Parses the structure; on error, the result holds what was read before the problem.</summary>
        public static Multiboot2Error Parse(ReadOnlySpan<byte> data, out Multiboot2Info info)
        {
            info = new Multiboot2Info();
            if (data.Length < 8) return Multiboot2Error.TooShort;
            uint totalSize = BinaryPrimitives.ReadUInt32LittleEndian(data);
            if (totalSize < 16 || totalSize > (uint)data.Length) return Multiboot2Error.BadTotalSize;
            info.TotalSize = (int)totalSize;
            data = data.Slice(0, (int)totalSize);

            var regions = new MemoryRegion[MaxRegions];
            var modules = new BootModule[MaxModules];
            int regionCount = 0, moduleCount = 0;
            int offset = 8;
            while (true)
            {
                if (offset + 8 > data.Length) return Finish(info, regions, regionCount, modules, moduleCount, Multiboot2Error.MissingEndTag);
                uint type = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(offset));
                uint size = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(offset + 4));
                if (size < 8) return Finish(info, regions, regionCount, modules, moduleCount, Multiboot2Error.BadTagSize);
                if (size > (uint)(data.Length - offset)) return Finish(info, regions, regionCount, modules, moduleCount, Multiboot2Error.TagOutOfBounds);
                ReadOnlySpan<byte> payload = data.Slice(offset + 8, (int)size - 8);
                switch (type)
                {
                    case TagEnd:
                        return Finish(info, regions, regionCount, modules, moduleCount, Multiboot2Error.None);
                    case TagCommandLine:
                        info.CommandLine = CString(payload);
                        break;
                    case TagLoaderName:
                        info.LoaderName = CString(payload);
                        break;
                    case TagModule:
                        if (payload.Length >= 8 && moduleCount < MaxModules)
                        {
                            modules[moduleCount].Start = BinaryPrimitives.ReadUInt32LittleEndian(payload);
                            modules[moduleCount].End = BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice(4));
                            modules[moduleCount].Name = CString(payload.Slice(8));
                            moduleCount++;
                        }
                        break;
                    case TagFramebuffer:
                        // u64 address, u32 pitch, u32 width, u32 height, u8 bpp, u8 type, then colour info.
                        if (payload.Length >= 22)
                        {
                            info.HasDisplay = true;
                            info.Display.Address = BinaryPrimitives.ReadUInt64LittleEndian(payload);
                            info.Display.Pitch = BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice(8));
                            info.Display.Width = BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice(12));
                            info.Display.Height = BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice(16));
                            info.Display.BitsPerPixel = payload[20];
                            info.Display.Kind = (FramebufferKind)payload[21];
                        }
                        break;
                    case TagMemoryMap:
                        if (!ReadMemoryMap(payload, regions, ref regionCount))
                        {
                            return Finish(info, regions, regionCount, modules, moduleCount, Multiboot2Error.BadMemoryMap);
                        }
                        break;
                }
                // Tags start on 8-byte boundaries; the padding is not counted in size.
                int next = offset + (int)((size + 7) & ~7u);
                if (next <= offset) return Finish(info, regions, regionCount, modules, moduleCount, Multiboot2Error.BadTagSize);
                offset = next;
            }
        }

        /// <summary>Bytes of usable memory in the map.</summary>
        public ulong UsableBytes
        {
            get
            {
                ulong total = 0;
                for (int i = 0; i < Regions.Length; i++)
                {
                    if (Regions[i].Kind == MemoryKind.Usable) total += Regions[i].Length;
                }
                return total;
            }
        }

        /// <summary>Number of usable ranges in the map.</summary>
        public int UsableRegionCount
        {
            get
            {
                int count = 0;
                for (int i = 0; i < Regions.Length; i++)
                {
                    if (Regions[i].Kind == MemoryKind.Usable) count++;
                }
                return count;
            }
        }

        /// <summary>The end of the highest usable range.</summary>
        public ulong HighestUsableAddress
        {
            get
            {
                ulong highest = 0;
                for (int i = 0; i < Regions.Length; i++)
                {
                    if (Regions[i].Kind == MemoryKind.Usable && Regions[i].End > highest) highest = Regions[i].End;
                }
                return highest;
            }
        }

        // Memory map payload: u32 entry_size, u32 entry_version, then entries of entry_size bytes, each
        // starting {u64 base_addr, u64 length, u32 type, u32 reserved}.
        private static bool ReadMemoryMap(ReadOnlySpan<byte> payload, MemoryRegion[] regions, ref int count)
        {
            if (payload.Length < 8) return false;
            uint entrySize = BinaryPrimitives.ReadUInt32LittleEndian(payload);
            if (entrySize < 24 || entrySize > 4096) return false;
            for (int at = 8; at + (int)entrySize <= payload.Length && count < regions.Length; at += (int)entrySize)
            {
                ulong start = BinaryPrimitives.ReadUInt64LittleEndian(payload.Slice(at));
                ulong length = BinaryPrimitives.ReadUInt64LittleEndian(payload.Slice(at + 8));
                uint kind = BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice(at + 16));
                if (length == 0 || start + length < start) continue;
                regions[count].Base = start;
                regions[count].Length = length;
                // Types beyond the spec's list are treated as reserved, as the spec requires.
                regions[count].Kind = kind >= 1 && kind <= 5 ? (MemoryKind)kind : MemoryKind.Reserved;
                count++;
            }
            return true;
        }

        private static Multiboot2Error Finish(Multiboot2Info info, MemoryRegion[] regions, int regionCount, BootModule[] modules, int moduleCount, Multiboot2Error error)
        {
            info.Regions = new MemoryRegion[regionCount];
            new ReadOnlySpan<MemoryRegion>(regions, 0, regionCount).CopyTo(info.Regions);
            info.Modules = new BootModule[moduleCount];
            new ReadOnlySpan<BootModule>(modules, 0, moduleCount).CopyTo(info.Modules);
            return error;
        }

        /// <summary>A NUL-terminated string (Latin-1/ASCII as loaders write it); the whole span if no NUL.</summary>
        private static string CString(ReadOnlySpan<byte> bytes)
        {
            int length = 0;
            while (length < bytes.Length && bytes[length] != 0) length++;
            Span<char> chars = length <= 256 ? stackalloc char[length] : new char[length];
            for (int i = 0; i < length; i++) chars[i] = (char)bytes[i];
            return new string(chars);
        }
    }
}

using System.Buffers.Binary;
using System.Text;

namespace Keel.Kernel.Tests;

/// <summary>
/// Writes ELF64 x86-64 files the way a PV kernel's linker lays them out: the ELF header, the program
/// headers (the PT_NOTE segment first when there are notes, then the segments in the order added), the
/// note bytes, then each segment's file bytes after its chosen padding. There are no section headers.
/// </summary>
internal sealed class XenElfBuilder
{
    public const int HeaderBytes = 64, ProgramHeaderBytes = 56;

    // elfnote.h
    public const uint Entry = 1, HypercallPage = 2, VirtBase = 3, PaddrOffset = 4, XenVersion = 5, GuestOs = 6,
        GuestVersion = 7, Loader = 8, PaeMode = 9, Features = 10, InitP2m = 15, ModStartPfn = 16, SupportedFeatures = 17;

    public const uint PtLoad = 1, PtNote = 4, PfX = 1, PfW = 2, PfR = 4;

    public sealed record Segment(uint Type, uint Flags, ulong PhysicalAddress, ulong VirtualAddress, byte[] Data, ulong MemoryBytes, int Padding);

    private readonly List<byte> _notes = [];
    private readonly List<Segment> _segments = [];

    public ulong HeaderEntry { get; set; }
    public ushort ElfType { get; set; } = 2;

    /// <summary>The offsets in the last built file of each segment's data, in the order added.</summary>
    public List<int> DataOffsets { get; } = [];

    public IReadOnlyList<Segment> Segments => _segments;

    public static byte[] NoteBytes(string name, uint type, byte[] desc)
    {
        var nameBytes = Encoding.ASCII.GetBytes(name + "\0");
        var note = new byte[12 + Align4(nameBytes.Length) + Align4(desc.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(note, (uint)nameBytes.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(note.AsSpan(4), (uint)desc.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(note.AsSpan(8), type);
        nameBytes.CopyTo(note, 12);
        desc.CopyTo(note, 12 + Align4(nameBytes.Length));
        return note;
    }

    public static byte[] NumberBytes(ulong value, int size)
    {
        var bytes = new byte[size];
        for (int i = 0; i < size; i++) bytes[i] = (byte)(value >> (8 * i));
        return bytes;
    }

    public XenElfBuilder Note(uint type, byte[] desc, string name = "Xen") => RawNotes(NoteBytes(name, type, desc));

    public XenElfBuilder String(uint type, string value) => Note(type, Encoding.ASCII.GetBytes(value + "\0"));

    public XenElfBuilder Number(uint type, ulong value, int size = 8) => Note(type, NumberBytes(value, size));

    public XenElfBuilder RawNotes(byte[] bytes)
    {
        _notes.AddRange(bytes);
        return this;
    }

    /// <summary>A PT_LOAD segment; p_vaddr is p_paddr unless given.</summary>
    public XenElfBuilder Load(ulong physicalAddress, byte[] data, ulong memoryBytes, uint flags = PfR | PfW | PfX, ulong? virtualAddress = null, int padding = 0) =>
        Add(new Segment(PtLoad, flags, physicalAddress, virtualAddress ?? physicalAddress, data, memoryBytes, padding));

    public XenElfBuilder Add(Segment segment)
    {
        _segments.Add(segment);
        return this;
    }

    /// <summary>The standard notes of a generic-loader PV kernel.</summary>
    public XenElfBuilder GenericNotes(string guestOs = "Keel test")
    {
        String(GuestOs, guestOs);
        String(Loader, "generic");
        return String(XenVersion, "xen-3.0");
    }

    public byte[] Build()
    {
        bool hasNotes = _notes.Count > 0;
        int headers = _segments.Count + (hasNotes ? 1 : 0);
        int notesOffset = HeaderBytes + headers * ProgramHeaderBytes;
        int offset = notesOffset + _notes.Count;
        DataOffsets.Clear();
        foreach (var segment in _segments)
        {
            offset += segment.Padding;
            DataOffsets.Add(offset);
            offset += segment.Data.Length;
        }
        var file = new byte[offset];

        file[0] = 0x7F; file[1] = (byte)'E'; file[2] = (byte)'L'; file[3] = (byte)'F';
        file[4] = 2; file[5] = 1; file[6] = 1;
        var header = file.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(header[16..], ElfType);
        BinaryPrimitives.WriteUInt16LittleEndian(header[18..], 62);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(header[24..], HeaderEntry);
        BinaryPrimitives.WriteUInt64LittleEndian(header[32..], HeaderBytes);
        BinaryPrimitives.WriteUInt16LittleEndian(header[52..], HeaderBytes);
        BinaryPrimitives.WriteUInt16LittleEndian(header[54..], ProgramHeaderBytes);
        BinaryPrimitives.WriteUInt16LittleEndian(header[56..], (ushort)headers);
        BinaryPrimitives.WriteUInt16LittleEndian(header[58..], 64);

        int index = 0;
        if (hasNotes)
        {
            WriteProgramHeader(file, index++, PtNote, PfR, (ulong)notesOffset, 0, 0, (ulong)_notes.Count, 0);
            _notes.CopyTo(file, notesOffset);
        }
        for (int i = 0; i < _segments.Count; i++)
        {
            var segment = _segments[i];
            WriteProgramHeader(file, index++, segment.Type, segment.Flags, (ulong)DataOffsets[i], segment.VirtualAddress,
                segment.PhysicalAddress, (ulong)segment.Data.Length, segment.MemoryBytes);
            segment.Data.CopyTo(file, DataOffsets[i]);
        }
        return file;
    }

    public static int ProgramHeaderOffset(int index) => HeaderBytes + index * ProgramHeaderBytes;

    private static void WriteProgramHeader(byte[] file, int index, uint type, uint flags, ulong offset, ulong vaddr, ulong paddr, ulong fileBytes, ulong memoryBytes)
    {
        var at = file.AsSpan(ProgramHeaderOffset(index));
        BinaryPrimitives.WriteUInt32LittleEndian(at, type);
        BinaryPrimitives.WriteUInt32LittleEndian(at[4..], flags);
        BinaryPrimitives.WriteUInt64LittleEndian(at[8..], offset);
        BinaryPrimitives.WriteUInt64LittleEndian(at[16..], vaddr);
        BinaryPrimitives.WriteUInt64LittleEndian(at[24..], paddr);
        BinaryPrimitives.WriteUInt64LittleEndian(at[32..], fileBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(at[40..], memoryBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(at[48..], 8);
    }

    private static int Align4(int value) => (value + 3) & ~3;
}

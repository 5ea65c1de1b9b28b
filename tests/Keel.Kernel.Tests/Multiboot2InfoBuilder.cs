using System.Buffers.Binary;
using System.Text;

namespace Keel.Kernel.Tests;

/// <summary>Builds Multiboot2 information structures the way GRUB lays them out (Multiboot2 spec 3.6).</summary>
internal sealed class Multiboot2InfoBuilder
{
    private readonly List<byte> _tags = [];

    public Multiboot2InfoBuilder String(uint type, string value)
    {
        var payload = Encoding.ASCII.GetBytes(value + "\0");
        return Tag(type, payload);
    }

    public Multiboot2InfoBuilder Module(uint start, uint end, string name)
    {
        var payload = new byte[8].Concat(Encoding.ASCII.GetBytes(name + "\0")).ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(payload, start);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), end);
        return Tag(3, payload);
    }

    public Multiboot2InfoBuilder MemoryMap(params (ulong Base, ulong Length, uint Type)[] entries) => MemoryMap(24, entries);

    public Multiboot2InfoBuilder MemoryMap(uint entrySize, params (ulong Base, ulong Length, uint Type)[] entries)
    {
        var payload = new byte[8 + entries.Length * (int)entrySize];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, entrySize);
        for (int i = 0; i < entries.Length; i++)
        {
            var at = payload.AsSpan(8 + i * (int)entrySize);
            BinaryPrimitives.WriteUInt64LittleEndian(at, entries[i].Base);
            if (entrySize >= 16) BinaryPrimitives.WriteUInt64LittleEndian(at[8..], entries[i].Length);
            if (entrySize >= 20) BinaryPrimitives.WriteUInt32LittleEndian(at[16..], entries[i].Type);
        }
        return Tag(6, payload);
    }

    public Multiboot2InfoBuilder Tag(uint type, byte[] payload)
    {
        int start = _tags.Count;
        _tags.AddRange(new byte[8]);
        BinaryPrimitives.WriteUInt32LittleEndian(CollectionsMarshalSpan(start), type);
        BinaryPrimitives.WriteUInt32LittleEndian(CollectionsMarshalSpan(start + 4), (uint)(8 + payload.Length));
        _tags.AddRange(payload);
        while (_tags.Count % 8 != 0) _tags.Add(0);
        return this;
    }

    public byte[] Build(bool withEndTag = true)
    {
        var body = new List<byte>(_tags);
        if (withEndTag) body.AddRange([0, 0, 0, 0, 8, 0, 0, 0]);
        var result = new byte[8 + body.Count];
        BinaryPrimitives.WriteUInt32LittleEndian(result, (uint)result.Length);
        body.CopyTo(result, 8);
        return result;
    }

    private Span<byte> CollectionsMarshalSpan(int offset) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_tags)[offset..];
}

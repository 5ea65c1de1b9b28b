using System;

namespace Keel.Guests.Control.Store;

/// <summary>A run of bytes kept in a <see cref="ByteArena"/>: the first chunk of a chain and the length.
/// The default value is the empty blob, which owns no chunk.</summary>
internal struct Blob
{
    /// <summary>The first chunk plus one, so that 0 (the default) means no chunk.</summary>
    public int Head;

    public int Length;

    public readonly int First => Head - 1;

    public static Blob Empty => default;
}

/// <summary>
/// Every byte the store keeps (node names, values and permissions, watch paths and tokens, the paths a
/// transaction looked at) lives here, in fixed-size chunks chained by index. The chunks are allocated once
/// at construction; there is no collector in the control domain, so the store never allocates per request
/// and frees chunks explicitly. A blob is all-or-nothing: <see cref="TryStore"/> fails, changing nothing,
/// when fewer free chunks remain than it needs.
/// Invariant: every chunk is either on the free list or in exactly one live blob's chain.
/// </summary>
internal sealed class ByteArena
{
    /// <summary>Bytes per chunk: most names and values in the store are short, so small chunks waste little.</summary>
    public const int ChunkBytes = 32;

    private readonly byte[] _data;   // chunk i is _data[i * ChunkBytes .. +ChunkBytes]
    private readonly int[] _next;    // the next chunk of a chain (or of the free list), -1 at the end
    private int _free;               // head of the free list
    private int _freeCount;

    public ByteArena(int chunks)
    {
        _data = new byte[chunks * ChunkBytes];
        _next = new int[chunks];
        for (int i = 0; i < chunks; i++)
        {
            _next[i] = i + 1 < chunks ? i + 1 : -1;
        }

        _free = chunks > 0 ? 0 : -1;
        _freeCount = chunks;
        Capacity = chunks;
    }

    public int Capacity { get; }

    public int FreeChunks => _freeCount;

    /// <summary>Chunks a blob of <paramref name="length"/> bytes occupies.</summary>
    public static int ChunksFor(int length) => (length + ChunkBytes - 1) / ChunkBytes;

    /// <summary>Copies <paramref name="bytes"/> into new chunks; false (and nothing taken) when too few are free.</summary>
    public bool TryStore(ReadOnlySpan<byte> bytes, out Blob blob)
    {
        blob = Blob.Empty;
        int needed = ChunksFor(bytes.Length);
        if (needed > _freeCount)
        {
            return false;
        }

        int previous = -1;
        for (int offset = 0; offset < bytes.Length; offset += ChunkBytes)
        {
            int chunk = _free;
            _free = _next[chunk];
            _next[chunk] = -1;
            int count = bytes.Length - offset < ChunkBytes ? bytes.Length - offset : ChunkBytes;
            bytes.Slice(offset, count).CopyTo(new Span<byte>(_data, chunk * ChunkBytes, count));
            if (previous < 0)
            {
                blob.Head = chunk + 1;
            }
            else
            {
                _next[previous] = chunk;
            }

            previous = chunk;
        }

        _freeCount -= needed;
        blob.Length = bytes.Length;
        return true;
    }

    /// <summary>Returns the blob's chunks to the free list and empties the blob.</summary>
    public void Release(ref Blob blob)
    {
        int chunk = blob.First;
        while (chunk >= 0)
        {
            int next = _next[chunk];
            _next[chunk] = _free;
            _free = chunk;
            _freeCount++;
            chunk = next;
        }

        blob = Blob.Empty;
    }

    /// <summary>Copies the blob into <paramref name="destination"/>, which must hold blob.Length bytes.</summary>
    public void CopyTo(Blob blob, Span<byte> destination)
    {
        int chunk = blob.First;
        for (int offset = 0; offset < blob.Length; offset += ChunkBytes)
        {
            int count = blob.Length - offset < ChunkBytes ? blob.Length - offset : ChunkBytes;
            new ReadOnlySpan<byte>(_data, chunk * ChunkBytes, count).CopyTo(destination.Slice(offset, count));
            chunk = _next[chunk];
        }
    }

    /// <summary>The byte at <paramref name="index"/> of the blob (walks the chain: for short blobs).</summary>
    public byte ByteAt(Blob blob, int index)
    {
        int chunk = blob.First;
        for (int skip = index / ChunkBytes; skip > 0; skip--)
        {
            chunk = _next[chunk];
        }

        return _data[chunk * ChunkBytes + index % ChunkBytes];
    }

    /// <summary>Byte-wise order of the blob against <paramref name="other"/>: negative, zero or positive.</summary>
    public int Compare(Blob blob, ReadOnlySpan<byte> other)
    {
        int chunk = blob.First;
        int common = blob.Length < other.Length ? blob.Length : other.Length;
        for (int i = 0; i < common; i++)
        {
            if (i > 0 && i % ChunkBytes == 0)
            {
                chunk = _next[chunk];
            }

            int difference = _data[chunk * ChunkBytes + i % ChunkBytes] - other[i];
            if (difference != 0)
            {
                return difference;
            }
        }

        return blob.Length - other.Length;
    }

    public bool Equals(Blob blob, ReadOnlySpan<byte> other) => blob.Length == other.Length && Compare(blob, other) == 0;

    /// <summary>Byte-wise order of two blobs.</summary>
    public int Compare(Blob a, Blob b)
    {
        int chunkA = a.First;
        int chunkB = b.First;
        int common = a.Length < b.Length ? a.Length : b.Length;
        for (int i = 0; i < common; i++)
        {
            if (i > 0 && i % ChunkBytes == 0)
            {
                chunkA = _next[chunkA];
                chunkB = _next[chunkB];
            }

            int difference = _data[chunkA * ChunkBytes + i % ChunkBytes] - _data[chunkB * ChunkBytes + i % ChunkBytes];
            if (difference != 0)
            {
                return difference;
            }
        }

        return a.Length - b.Length;
    }
}

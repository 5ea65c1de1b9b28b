using System;

namespace Keel.Guests.KvStore;

/// <summary>
/// The keys and their values, in arrays sized once at construction (there is no collector in a
/// freestanding domain): MaxKeys slots, each with room for the longest key and value the format holds.
/// Lookups scan the slots, which at 256 keys costs less than one disk request.
/// </summary>
public sealed class KvTable
{
    public const int MaxKeys = 256;

    private readonly byte[] _keys = new byte[MaxKeys * KvFormat.MaxKeyBytes];
    private readonly byte[] _values = new byte[MaxKeys * KvFormat.MaxValueBytes];
    /// <summary>0 for a free slot: every key has at least one byte.</summary>
    private readonly int[] _keyLengths = new int[MaxKeys];
    private readonly int[] _valueLengths = new int[MaxKeys];

    public int Count { get; private set; }

    public bool IsFull => Count == MaxKeys;

    /// <summary>The slot holding key, or -1.</summary>
    public int Find(ReadOnlySpan<byte> key)
    {
        for (int slot = 0; slot < MaxKeys; slot++)
        {
            if (_keyLengths[slot] == key.Length && Key(slot).SequenceEqual(key)) return slot;
        }
        return -1;
    }

    /// <summary>Whether key is there or there is room for it.</summary>
    public bool HasRoomFor(ReadOnlySpan<byte> key) => !IsFull || Find(key) >= 0;

    /// <summary>Sets key to value, replacing any value it had; false if the lengths do not fit or no slot is free.</summary>
    public bool Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        if (!KvFormat.Fits(KvOp.Put, key.Length, value.Length)) return false;
        int slot = Find(key);
        if (slot < 0)
        {
            slot = FreeSlot();
            if (slot < 0) return false;
            key.CopyTo(_keys.AsSpan(slot * KvFormat.MaxKeyBytes, KvFormat.MaxKeyBytes));
            _keyLengths[slot] = key.Length;
            Count++;
        }
        value.CopyTo(_values.AsSpan(slot * KvFormat.MaxValueBytes, KvFormat.MaxValueBytes));
        _valueLengths[slot] = value.Length;
        return true;
    }

    /// <summary>Removes key; false if it was not there.</summary>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        int slot = Find(key);
        if (slot < 0) return false;
        _keyLengths[slot] = 0;
        Count--;
        return true;
    }

    public bool IsUsed(int slot) => slot >= 0 && slot < MaxKeys && _keyLengths[slot] != 0;

    /// <summary>The key in slot (empty for a free or out-of-range slot).</summary>
    public ReadOnlySpan<byte> Key(int slot) =>
        IsUsed(slot) ? new ReadOnlySpan<byte>(_keys, slot * KvFormat.MaxKeyBytes, _keyLengths[slot]) : ReadOnlySpan<byte>.Empty;

    public ReadOnlySpan<byte> Value(int slot) =>
        IsUsed(slot) ? new ReadOnlySpan<byte>(_values, slot * KvFormat.MaxValueBytes, _valueLengths[slot]) : ReadOnlySpan<byte>.Empty;

    /// <summary>The used slots in byte order of their keys, into slots (at least Count long); returns how many.</summary>
    public int Sorted(Span<int> slots)
    {
        int n = 0;
        for (int slot = 0; slot < MaxKeys && n < slots.Length; slot++)
        {
            if (!IsUsed(slot)) continue;
            int at = n++;
            while (at > 0 && Compare(Key(slots[at - 1]), Key(slot)) > 0)
            {
                slots[at] = slots[at - 1];
                at--;
            }
            slots[at] = slot;
        }
        return n;
    }

    private int FreeSlot()
    {
        for (int slot = 0; slot < MaxKeys; slot++)
        {
            if (_keyLengths[slot] == 0) return slot;
        }
        return -1;
    }

    private static int Compare(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int common = Math.Min(a.Length, b.Length);
        for (int i = 0; i < common; i++)
        {
            if (a[i] != b[i]) return a[i] - b[i];
        }
        return a.Length - b.Length;
    }
}

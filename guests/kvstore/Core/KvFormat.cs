using System;
using System.Buffers.Binary;

namespace Keel.Guests.KvStore;

/// <summary>What a record does to its key.</summary>
public enum KvOp : byte
{
    Put = 1,
    Delete = 2,
}

/// <summary>What sector 0 of a disk holds, as far as the store is concerned.</summary>
public enum KvHeaderState
{
    /// <summary>Zeros: a disk no one has written; the store may start a log on it.</summary>
    Blank,
    Valid,
    /// <summary>A kvstore header of a format version this build does not read.</summary>
    OtherVersion,
    /// <summary>Anything else: the disk belongs to someone else, so the store leaves it alone.</summary>
    Foreign,
}

/// <summary>One record read back from its sector; Key and Value point into that sector.</summary>
public readonly ref struct KvRecord(KvOp op, ulong sequence, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint checksum)
{
    public KvOp Op { get; } = op;

    public ulong Sequence { get; } = sequence;

    public ReadOnlySpan<byte> Key { get; } = key;

    public ReadOnlySpan<byte> Value { get; } = value;

    public uint Checksum { get; } = checksum;
}

/// <summary>
/// The log on the disk, one 512-byte sector per record, so that each record goes to the device in one
/// write, which a disk does whole or not at all. Sector 0 is the header, record n is at sector 1 + n.
/// All numbers little-endian.
/// <code>
/// header:  0 u64 magic "kvstore\0" | 8 u32 format version (1) | 12..507 zero | 508 u32 checksum
/// record:  0 u32 magic "kvr1" | 4 u32 the previous record's checksum (the header's for record 0)
///          8 u64 sequence (its record number) | 16 u8 op (1 put, 2 delete) | 17 u8 key length (1..64)
///          18 u16 value length (0..400; 0 for a delete) | 20 key[64] | 84 value[400] | 484..507 zero
///          508 u32 checksum
/// </code>
/// The checksum is FNV-1a (32-bit) over bytes 0..507. A record is taken only with the expected magic,
/// checksum, sequence and previous checksum: a torn or corrupt sector fails the checksum, a sector left from
/// an older, longer log fails the chain (its predecessor was rewritten), so either ends the log there.
/// </summary>
public static class KvFormat
{
    public const int SectorBytes = 512;
    public const int MaxKeyBytes = 64;
    public const int MaxValueBytes = 400;
    public const uint Version = 1;

    private const ulong HeaderMagic = 0x0065726F7473766BUL;   // "kvstore\0"
    private const uint RecordMagic = 0x3172766BU;             // "kvr1"
    private const int VersionAt = 8;
    private const int PreviousAt = 4, SequenceAt = 8, OpAt = 16, KeyLengthAt = 17, ValueLengthAt = 18, KeyAt = 20;
    private const int ValueAt = KeyAt + MaxKeyBytes;
    private const int ChecksumAt = SectorBytes - 4;

    /// <summary>FNV-1a over a sector's bytes before its checksum field.</summary>
    public static uint Checksum(ReadOnlySpan<byte> sector)
    {
        uint hash = 2166136261;
        int end = Math.Min(sector.Length, ChecksumAt);
        for (int i = 0; i < end; i++) hash = (hash ^ sector[i]) * 16777619;
        return hash;
    }

    /// <summary>Writes the header into sector (512 bytes); returns its checksum, which record 0 chains to.</summary>
    public static uint EncodeHeader(Span<byte> sector)
    {
        sector = sector.Slice(0, SectorBytes);
        sector.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(sector, HeaderMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(sector.Slice(VersionAt), Version);
        return Seal(sector);
    }

    /// <summary>What sector 0 is; for a valid header, checksum is what record 0 chains to.</summary>
    public static KvHeaderState ReadHeader(ReadOnlySpan<byte> sector, out uint checksum)
    {
        checksum = 0;
        if (sector.Length < SectorBytes) return KvHeaderState.Foreign;
        if (IsZero(sector.Slice(0, SectorBytes))) return KvHeaderState.Blank;
        if (BinaryPrimitives.ReadUInt64LittleEndian(sector) != HeaderMagic || !IsSealed(sector)) return KvHeaderState.Foreign;
        if (BinaryPrimitives.ReadUInt32LittleEndian(sector.Slice(VersionAt)) != Version) return KvHeaderState.OtherVersion;
        checksum = Checksum(sector);
        return KvHeaderState.Valid;
    }

    /// <summary>
    /// Writes record sequence into sector (512 bytes), chained to the record before it; false, with nothing
    /// written, if the key or value has a length the format cannot hold (a delete carries no value).
    /// </summary>
    public static bool TryEncode(Span<byte> sector, ulong sequence, uint previous, KvOp op, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, out uint checksum)
    {
        checksum = 0;
        if (sector.Length < SectorBytes || !Fits(op, key.Length, value.Length)) return false;
        sector = sector.Slice(0, SectorBytes);
        sector.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(sector, RecordMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(sector.Slice(PreviousAt), previous);
        BinaryPrimitives.WriteUInt64LittleEndian(sector.Slice(SequenceAt), sequence);
        sector[OpAt] = (byte)op;
        sector[KeyLengthAt] = (byte)key.Length;
        BinaryPrimitives.WriteUInt16LittleEndian(sector.Slice(ValueLengthAt), (ushort)value.Length);
        key.CopyTo(sector.Slice(KeyAt));
        value.CopyTo(sector.Slice(ValueAt));
        checksum = Seal(sector);
        return true;
    }

    /// <summary>
    /// The record in sector if it is record sequence of a log whose previous record's checksum is previous;
    /// false for anything else (a blank or torn sector, a corrupt one, one from another place or another log).
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> sector, ulong sequence, uint previous, out KvRecord record)
    {
        record = default;
        if (sector.Length < SectorBytes || BinaryPrimitives.ReadUInt32LittleEndian(sector) != RecordMagic || !IsSealed(sector)) return false;
        if (BinaryPrimitives.ReadUInt32LittleEndian(sector.Slice(PreviousAt)) != previous) return false;
        if (BinaryPrimitives.ReadUInt64LittleEndian(sector.Slice(SequenceAt)) != sequence) return false;
        var op = (KvOp)sector[OpAt];
        int keyLength = sector[KeyLengthAt];
        int valueLength = BinaryPrimitives.ReadUInt16LittleEndian(sector.Slice(ValueLengthAt));
        if ((op != KvOp.Put && op != KvOp.Delete) || !Fits(op, keyLength, valueLength)) return false;
        record = new KvRecord(op, sequence, sector.Slice(KeyAt, keyLength), sector.Slice(ValueAt, valueLength), Checksum(sector));
        return true;
    }

    /// <summary>Whether a key and value of these lengths make a record of op.</summary>
    public static bool Fits(KvOp op, int keyLength, int valueLength) =>
        keyLength >= 1 && keyLength <= MaxKeyBytes && valueLength >= 0 && valueLength <= (op == KvOp.Put ? MaxValueBytes : 0);

    private static uint Seal(Span<byte> sector)
    {
        uint checksum = Checksum(sector);
        BinaryPrimitives.WriteUInt32LittleEndian(sector.Slice(ChecksumAt), checksum);
        return checksum;
    }

    private static bool IsSealed(ReadOnlySpan<byte> sector) => BinaryPrimitives.ReadUInt32LittleEndian(sector.Slice(ChecksumAt)) == Checksum(sector);

    private static bool IsZero(ReadOnlySpan<byte> bytes)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != 0) return false;
        }
        return true;
    }
}

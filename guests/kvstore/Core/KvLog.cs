using System;

namespace Keel.Guests.KvStore;

/// <summary>Whether an operation can become the log's next record, and if not, why.</summary>
public enum KvAppend
{
    Ready,
    /// <summary>The key or value is longer (or the key shorter) than a record holds.</summary>
    BadLength,
    /// <summary>A delete of a key the table does not have: there is nothing to record.</summary>
    NotFound,
    /// <summary>A put of a new key when every slot of the table is taken.</summary>
    TableFull,
    /// <summary>Every sector of the disk already holds a record.</summary>
    LogFull,
}

/// <summary>
/// The log as this run knows it: the table its records make, how many there are (so where the next one goes:
/// sector 1 + Records) and the checksum the next one chains to. Records arrive one way only, through
/// <see cref="Replay"/>: those read back from the disk at start, and each new one once the disk has
/// acknowledged it, so what the table says is always what the disk holds.
/// </summary>
public sealed class KvLog
{
    private uint _last;

    /// <summary>A log on a disk of diskSectors sectors whose header has the checksum header; nothing replayed yet.</summary>
    public KvLog(ulong diskSectors, uint header)
    {
        Capacity = diskSectors > 0 ? diskSectors - 1 : 0;
        _last = header;
    }

    public KvTable Table { get; } = new KvTable();

    public ulong Records { get; private set; }

    /// <summary>How many records the disk has room for: every sector but the header.</summary>
    public ulong Capacity { get; }

    public bool IsFull => Records >= Capacity;

    /// <summary>The sector the next record goes to.</summary>
    public ulong NextSector => 1 + Records;

    /// <summary>
    /// Takes sector as the log's next record and applies it to the table, or returns false if it is not that
    /// record: the log ends before it. A put of a 257th key is refused too; this store never writes one.
    /// </summary>
    public bool Replay(ReadOnlySpan<byte> sector)
    {
        if (IsFull || !KvFormat.TryDecode(sector, Records, _last, out KvRecord record)) return false;
        if (record.Op == KvOp.Put)
        {
            if (!Table.Put(record.Key, record.Value)) return false;
        }
        else
        {
            Table.Delete(record.Key);
        }
        _last = record.Checksum;
        Records++;
        return true;
    }

    /// <summary>
    /// Encodes op on key (and value, for a put) as the next record into sector (512 bytes) if it can be one;
    /// the caller writes it to <see cref="NextSector"/> and, once the disk has taken it, replays it.
    /// </summary>
    public KvAppend Prepare(KvOp op, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, Span<byte> sector)
    {
        if (!KvFormat.Fits(op, key.Length, value.Length) || sector.Length < KvFormat.SectorBytes) return KvAppend.BadLength;
        if (op == KvOp.Delete && Table.Find(key) < 0) return KvAppend.NotFound;
        if (op == KvOp.Put && !Table.HasRoomFor(key)) return KvAppend.TableFull;
        if (IsFull) return KvAppend.LogFull;
        KvFormat.TryEncode(sector, Records, _last, op, key, value, out _);
        return KvAppend.Ready;
    }
}

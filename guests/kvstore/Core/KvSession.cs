using System;

namespace Keel.Guests.KvStore;

/// <summary>
/// The disk the store keeps its log on, in whole 512-byte sectors. Each call returns only once the device
/// has answered: true means done (for a write, acknowledged), false means failed.
/// </summary>
public abstract class KvDisk
{
    public abstract ulong Sectors { get; }

    public abstract bool ReadOnly { get; }

    /// <summary>The most sectors one <see cref="Read"/> may ask for.</summary>
    public abstract int MaxReadSectors { get; }

    /// <summary>count consecutive sectors from sector into the first count * 512 bytes of into.</summary>
    public abstract bool Read(ulong sector, int count, Span<byte> into);

    /// <summary>One sector (data is 512 bytes), written in one request so the device does it whole or not at all.</summary>
    public abstract bool Write(ulong sector, ReadOnlySpan<byte> data);
}

/// <summary>Where the store's lines go: the domain's console, or a test's list.</summary>
public abstract class KvConsole
{
    public abstract void WriteLine(ReadOnlySpan<char> line);
}

/// <summary>
/// The key-value store: <see cref="Open"/> finds (or starts) the log on the disk and replays it into the
/// table, <see cref="Run"/> performs a command line's operations in order, one console line each, and
/// <see cref="Summary"/> says what the run did. A put or delete is reported only once its record is on the
/// disk. Everything it needs is allocated here, at construction.
/// </summary>
public sealed class KvSession
{
    private const string Operations = "the operations are put KEY=VALUE, get KEY, del KEY and list, separated by ';'";

    private readonly KvDisk _disk;
    private readonly KvConsole _console;
    private readonly byte[] _sector = new byte[KvFormat.SectorBytes];
    private readonly byte[] _chunk;
    private readonly byte[] _key = new byte[KvFormat.MaxKeyBytes];
    private readonly byte[] _value = new byte[KvFormat.MaxValueBytes];
    private readonly int[] _sorted = new int[KvTable.MaxKeys];
    /// <summary>Room for the longest line: a listing of every key, each with its ", ".</summary>
    private readonly KvLine _line = new KvLine(64 + KvTable.MaxKeys * (KvFormat.MaxKeyBytes + 2));
    private KvLog _log;
    private ulong _replayed;

    public KvSession(KvDisk disk, KvConsole console)
    {
        _disk = disk;
        _console = console;
        _chunk = new byte[Math.Max(1, disk.MaxReadSectors) * KvFormat.SectorBytes];
    }

    /// <summary>The log once opened (null before, or if the disk could not be used).</summary>
    public KvLog Log => _log;

    /// <summary>
    /// Reads sector 0 (writing a header on a blank disk) and replays the records after it until the first
    /// that is not the next one. False, having said why, when the disk is not the store's or cannot be read:
    /// then nothing may be written, lest a record go over one never read.
    /// </summary>
    public bool Open()
    {
        ulong sectors = _disk.Sectors;
        if (sectors < 2) return Fail(_line.Start("kv: the disk has ").Add(sectors).Add(" sector(s); a log needs at least 2"));
        if (!_disk.Read(0, 1, _sector)) return Fail(_line.Start("kv: reading the header (sector 0) failed"));
        switch (KvFormat.ReadHeader(_sector, out uint header))
        {
            case KvHeaderState.Valid:
                break;
            case KvHeaderState.Blank when _disk.ReadOnly:
                Say(_line.Start("kv: the disk is blank and read-only: an empty table, and nothing can be put"));
                _log = new KvLog(0, 0);
                return true;
            case KvHeaderState.Blank:
                header = KvFormat.EncodeHeader(_sector);
                if (!_disk.Write(0, _sector)) return Fail(_line.Start("kv: writing the header (sector 0) failed"));
                Say(_line.Start("kv: a new log on a blank disk of ").Add(sectors).Add(" sectors"));
                break;
            case KvHeaderState.OtherVersion:
                return Fail(_line.Start("kv: the disk holds a log of another format version; this store reads version ").Add(KvFormat.Version));
            default:
                return Fail(_line.Start("kv: sector 0 is not a kvstore header: the disk holds something else and is left alone"));
        }
        _log = new KvLog(sectors, header);
        if (!Replay())
        {
            _log = null;
            return false;
        }
        _replayed = _log.Records;
        return true;
    }

    /// <summary>Reads the records in chunks and replays them until one is not the next; false if a read failed.</summary>
    private bool Replay()
    {
        while (!_log.IsFull)
        {
            ulong first = _log.NextSector;
            int count = (int)Math.Min((ulong)(_chunk.Length / KvFormat.SectorBytes), _log.Capacity - _log.Records);
            if (!_disk.Read(first, count, _chunk)) return Fail(_line.Start("kv: reading sector ").Add(first).Add(" failed; nothing is done"));
            for (int i = 0; i < count; i++)
            {
                if (!_log.Replay(new ReadOnlySpan<byte>(_chunk, i * KvFormat.SectorBytes, KvFormat.SectorBytes))) return true;
            }
        }
        return true;
    }

    /// <summary>Performs each operation of commandLine in order; stops early only if the disk fails a write.</summary>
    public void Run(ReadOnlySpan<char> commandLine)
    {
        if (_log == null) return;
        int position = 0;
        while (KvCommands.Next(commandLine, ref position, out KvCommand command))
        {
            if (!Perform(command))
            {
                Say(_line.Start("kv: stopping: what the disk holds after a failed write is not known"));
                return;
            }
        }
    }

    /// <summary>"kv: N records replayed, M appended, K keys".</summary>
    public void Summary()
    {
        if (_log == null) return;
        Say(_line.Start("kv: ").Add(_replayed).Add(" records replayed, ").Add(_log.Records - _replayed).Add(" appended, ")
            .Add((ulong)_log.Table.Count).Add(" keys"));
    }

    /// <summary>One operation and its line; false only when a write failed.</summary>
    private bool Perform(KvCommand command)
    {
        switch (command.Kind)
        {
            case KvCommandKind.Put:
                return Change(KvOp.Put, command);
            case KvCommandKind.Delete:
                return Change(KvOp.Delete, command);
            case KvCommandKind.Get:
                Get(command.Key);
                return true;
            case KvCommandKind.List:
                List();
                return true;
            default:
                Say(_line.Start("kv: cannot read \"").Add(command.Text).Add("\": ").Add(Operations));
                return true;
        }
    }

    private bool Change(KvOp op, KvCommand command)
    {
        string verb = op == KvOp.Put ? "put " : "del ";
        if (!KeyBytes(command.Key, out int keyLength))
            return Refused(verb, command, "keys are 1 to 64 printable ASCII characters without spaces");
        int valueLength = KvCommands.ToAscii(command.Value, _value, spaces: true);
        if (valueLength < 0) return Refused(verb, command, "values are at most 400 printable ASCII characters");
        if (_disk.ReadOnly) return Refused(verb, command, "the disk is read-only");
        var key = new ReadOnlySpan<byte>(_key, 0, keyLength);
        switch (_log.Prepare(op, key, new ReadOnlySpan<byte>(_value, 0, valueLength), _sector))
        {
            case KvAppend.Ready:
                break;
            case KvAppend.NotFound:
                Say(_line.Start("kv: ").Add(command.Key).Add(" not found"));
                return true;
            case KvAppend.TableFull:
                return Refused(verb, command, "the table holds 256 keys already");
            case KvAppend.LogFull:
                Say(Refusal(verb, command).Add("the log is full (").Add(_log.Records).Add(" records fill the disk)"));
                return true;
            default:
                return Refused(verb, command, "a record cannot hold it");
        }
        if (!_disk.Write(_log.NextSector, _sector))
        {
            Say(_line.Start("kv: ").Add(verb).Add(command.Key).Add(" failed: the disk did not take the record"));
            return false;
        }
        _log.Replay(_sector);
        Say(_line.Start("kv: ").Add(verb).Add(command.Key));
        return true;
    }

    private void Get(ReadOnlySpan<char> key)
    {
        int slot = KeyBytes(key, out int length) ? _log.Table.Find(new ReadOnlySpan<byte>(_key, 0, length)) : -1;
        if (slot < 0) Say(_line.Start("kv: ").Add(key).Add(" not found"));
        else Say(_line.Start("kv: ").Add(key).Add(" = ").Add(_log.Table.Value(slot)));
    }

    private void List()
    {
        int n = _log.Table.Sorted(_sorted);
        _line.Start("kv: ").Add((ulong)n).Add(n == 1 ? " key" : " keys");
        for (int i = 0; i < n; i++) _line.Add(i == 0 ? ": " : ", ").Add(_log.Table.Key(_sorted[i]));
        Say(_line);
    }

    /// <summary>The key as bytes in _key; false if it is not a key (empty, too long, or with a character keys may not have).</summary>
    private bool KeyBytes(ReadOnlySpan<char> key, out int length)
    {
        length = KvCommands.ToAscii(key, _key, spaces: false);
        return length > 0;
    }

    private bool Refused(string verb, KvCommand command, string reason)
    {
        Say(Refusal(verb, command).Add(reason));
        return true;
    }

    private KvLine Refusal(string verb, KvCommand command) => _line.Start("kv: ").Add(verb).Add(command.Key).Add(" refused: ");

    private void Say(KvLine line) => _console.WriteLine(line.Text);

    private bool Fail(KvLine line)
    {
        Say(line);
        return false;
    }
}

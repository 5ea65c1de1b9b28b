using System.Collections.Generic;
using System.Text;
using Keel.Guests.KvStore;
using Xunit;

namespace Keel.KvStore.Tests;

/// <summary>The log: records appended and replayed into the table, and where replay stops.</summary>
public sealed class LogTests
{
    private const uint Header = 0xC0FFEE;

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    /// <summary>Appends each operation as the store does (prepare, then replay once "written"); returns the sectors.</summary>
    private static List<byte[]> Append(KvLog log, params (KvOp Op, string Key, string Value)[] operations)
    {
        var sectors = new List<byte[]>();
        foreach (var (op, key, value) in operations)
        {
            var sector = new byte[KvFormat.SectorBytes];
            Assert.Equal(KvAppend.Ready, log.Prepare(op, Ascii(key), Ascii(value), sector));
            Assert.True(log.Replay(sector));
            sectors.Add(sector);
        }
        return sectors;
    }

    private static KvLog Replay(IEnumerable<byte[]> sectors, ulong diskSectors = 100)
    {
        var log = new KvLog(diskSectors, Header);
        foreach (byte[] sector in sectors)
        {
            if (!log.Replay(sector)) break;
        }
        return log;
    }

    private static string Value(KvLog log, string key)
    {
        int slot = log.Table.Find(Ascii(key));
        return slot < 0 ? null : Encoding.ASCII.GetString(log.Table.Value(slot));
    }

    [Fact]
    public void A_later_put_of_a_key_supersedes_the_earlier_one()
    {
        var sectors = Append(new KvLog(100, Header), (KvOp.Put, "colour", "blue"), (KvOp.Put, "colour", "green"));
        KvLog log = Replay(sectors);
        Assert.Equal(2ul, log.Records);
        Assert.Equal(1, log.Table.Count);
        Assert.Equal("green", Value(log, "colour"));
    }

    [Fact]
    public void A_deleted_key_is_gone_after_replay_and_can_be_put_again()
    {
        var sectors = Append(new KvLog(100, Header), (KvOp.Put, "n", "42"), (KvOp.Put, "m", "1"), (KvOp.Delete, "n", ""));
        KvLog log = Replay(sectors);
        Assert.Null(Value(log, "n"));
        Assert.Equal("1", Value(log, "m"));
        Append(log, (KvOp.Put, "n", "43"));
        Assert.Equal("43", Value(log, "n"));
    }

    [Fact]
    public void A_delete_of_a_missing_key_is_not_recorded()
    {
        var log = new KvLog(100, Header);
        Assert.Equal(KvAppend.NotFound, log.Prepare(KvOp.Delete, Ascii("n"), [], new byte[KvFormat.SectorBytes]));
        Assert.Equal(0ul, log.Records);
    }

    [Fact]
    public void A_corrupt_record_ends_the_log_and_what_follows_it_is_not_replayed()
    {
        var sectors = Append(new KvLog(100, Header), (KvOp.Put, "a", "1"), (KvOp.Put, "b", "2"), (KvOp.Put, "c", "3"));
        sectors[1][100] ^= 1;
        KvLog log = Replay(sectors);
        Assert.Equal(1ul, log.Records);
        Assert.Equal("1", Value(log, "a"));
        Assert.Null(Value(log, "b"));
        Assert.Null(Value(log, "c"));
        Assert.Equal(2ul, log.NextSector);
    }

    [Fact]
    public void A_record_left_behind_a_rewritten_break_does_not_join_the_new_log()
    {
        var old = Append(new KvLog(100, Header), (KvOp.Put, "a", "1"), (KvOp.Put, "b", "2"), (KvOp.Put, "c", "3"));
        old[1][100] ^= 1;
        KvLog log = Replay(old);
        // The next record goes over the corrupt one; the old third record has the right sequence but chains to the old second.
        var rewritten = Append(log, (KvOp.Put, "d", "4"));
        KvLog again = Replay([old[0], rewritten[0], old[2]]);
        Assert.Equal(2ul, again.Records);
        Assert.Equal("4", Value(again, "d"));
        Assert.Null(Value(again, "c"));
    }

    [Fact]
    public void Records_of_a_log_with_another_header_are_not_replayed()
    {
        var sectors = Append(new KvLog(100, Header), (KvOp.Put, "a", "1"));
        var log = new KvLog(100, Header + 1);
        Assert.False(log.Replay(sectors[0]));
        Assert.Equal(0, log.Table.Count);
    }

    [Fact]
    public void When_every_sector_holds_a_record_the_log_is_full()
    {
        var log = new KvLog(3, Header);
        Append(log, (KvOp.Put, "a", "1"), (KvOp.Put, "a", "2"));
        Assert.True(log.IsFull);
        Assert.Equal(KvAppend.LogFull, log.Prepare(KvOp.Put, Ascii("a"), Ascii("3"), new byte[KvFormat.SectorBytes]));
    }

    [Fact]
    public void A_257th_key_is_refused_but_an_existing_key_may_still_change()
    {
        var log = new KvLog(1000, Header);
        for (int i = 0; i < KvTable.MaxKeys; i++) Append(log, (KvOp.Put, $"k{i}", "v"));
        Assert.True(log.Table.IsFull);
        Assert.Equal(KvAppend.TableFull, log.Prepare(KvOp.Put, Ascii("new"), Ascii("v"), new byte[KvFormat.SectorBytes]));
        Append(log, (KvOp.Put, "k7", "changed"), (KvOp.Delete, "k8", ""), (KvOp.Put, "new", "fits now"));
        Assert.Equal("changed", Value(log, "k7"));
        Assert.Equal("fits now", Value(log, "new"));
    }

    [Fact]
    public void The_table_lists_its_keys_in_byte_order()
    {
        var log = new KvLog(100, Header);
        Append(log, (KvOp.Put, "n", "1"), (KvOp.Put, "colour", "2"), (KvOp.Put, "b", "3"), (KvOp.Put, "ba", "4"), (KvOp.Delete, "n", ""));
        var slots = new int[KvTable.MaxKeys];
        int n = log.Table.Sorted(slots);
        var keys = new List<string>();
        for (int i = 0; i < n; i++) keys.Add(Encoding.ASCII.GetString(log.Table.Key(slots[i])));
        Assert.Equal(["b", "ba", "colour"], keys);
    }
}

using System.Collections.Generic;
using Keel.Guests.KvStore;
using Keel.KvStore.Tests.Support;
using Xunit;

namespace Keel.KvStore.Tests;

/// <summary>The store as the domain runs it, over an in-memory disk: the lines it prints for a command line.</summary>
public sealed class SessionTests
{
    /// <summary>Opens the store on disk, runs commandLine and the summary, as the domain does; returns the lines.</summary>
    private static List<string> Boot(MemoryDisk disk, string commandLine)
    {
        var console = new ListConsole();
        var session = new KvSession(disk, console);
        if (session.Open())
        {
            session.Run(commandLine);
            session.Summary();
        }
        return console.Lines;
    }

    [Fact]
    public void The_example_command_line_prints_one_line_per_operation_and_a_summary()
    {
        var lines = Boot(new MemoryDisk(64), "put colour=blue;put n=42;get colour;del n;list");
        Assert.Equal(
        [
            "kv: a new log on a blank disk of 64 sectors",
            "kv: put colour",
            "kv: put n",
            "kv: colour = blue",
            "kv: del n",
            "kv: 1 key: colour",
            "kv: 0 records replayed, 3 appended, 1 keys",
        ], lines);
    }

    [Fact]
    public void What_one_boot_put_the_next_boot_on_the_same_disk_gets_back()
    {
        var disk = new MemoryDisk(64);
        Boot(disk, "put colour=blue; put n=42 ;put sky=a clear blue;put n=43");
        var lines = Boot(disk, "get colour;get n;get sky;get gone;list");
        Assert.Equal(
        [
            "kv: colour = blue",
            "kv: n = 43",
            "kv: sky = a clear blue",
            "kv: gone not found",
            "kv: 3 keys: colour, n, sky",
            "kv: 4 records replayed, 0 appended, 3 keys",
        ], lines);
    }

    [Fact]
    public void A_replay_reads_the_log_in_chunks_and_appends_after_its_last_record()
    {
        var disk = new MemoryDisk(200, maxReadSectors: 3);
        for (int i = 0; i < 10; i++) Boot(disk, $"put k{i}={i}");
        var lines = Boot(disk, "put last=yes;get k9");
        Assert.Equal(["kv: put last", "kv: k9 = 9", "kv: 10 records replayed, 1 appended, 11 keys"], lines);
        Assert.Equal(11ul, disk.Written[^1]);
    }

    [Fact]
    public void A_full_log_refuses_a_put_with_a_message()
    {
        var lines = Boot(new MemoryDisk(3), "put a=1;put b=2;put c=3;get b");
        Assert.Equal("kv: put c refused: the log is full (2 records fill the disk)", lines[3]);
        Assert.Equal("kv: b = 2", lines[4]);
    }

    [Fact]
    public void Bad_keys_values_and_operations_are_refused_and_the_rest_still_run()
    {
        string longKey = new('k', 65), longValue = new('v', 401);
        var lines = Boot(new MemoryDisk(16), $"put {longKey}=1;put k={longValue};put a b=1;put =1;frobnicate x;get;put ok=1");
        Assert.Equal(
        [
            "kv: a new log on a blank disk of 16 sectors",
            $"kv: put {longKey} refused: keys are 1 to 64 printable ASCII characters without spaces",
            "kv: put k refused: values are at most 400 printable ASCII characters",
            "kv: put a b refused: keys are 1 to 64 printable ASCII characters without spaces",
            "kv: put  refused: keys are 1 to 64 printable ASCII characters without spaces",
            "kv: cannot read \"frobnicate x\": the operations are put KEY=VALUE, get KEY, del KEY and list, separated by ';'",
            "kv: cannot read \"get\": the operations are put KEY=VALUE, get KEY, del KEY and list, separated by ';'",
            "kv: put ok",
            "kv: 0 records replayed, 1 appended, 1 keys",
        ], lines);
    }

    [Fact]
    public void A_disk_holding_something_else_is_left_untouched()
    {
        var disk = new MemoryDisk(16);
        disk.Bytes[510] = 0x55;
        disk.Bytes[511] = 0xAA;
        var lines = Boot(disk, "put a=1");
        Assert.Equal(["kv: sector 0 is not a kvstore header: the disk holds something else and is left alone"], lines);
        Assert.Empty(disk.Written);
    }

    [Fact]
    public void A_read_only_disk_is_read_and_every_change_refused()
    {
        var disk = new MemoryDisk(16);
        Boot(disk, "put a=1");
        disk.IsReadOnly = true;
        var lines = Boot(disk, "get a;put b=2;del a");
        Assert.Equal(["kv: a = 1", "kv: put b refused: the disk is read-only", "kv: del a refused: the disk is read-only", "kv: 1 records replayed, 0 appended, 1 keys"], lines);
    }

    [Fact]
    public void A_blank_read_only_disk_gives_an_empty_table_and_gets_no_header()
    {
        var disk = new MemoryDisk(16) { IsReadOnly = true };
        var lines = Boot(disk, "get a;put a=1");
        Assert.Equal(
        [
            "kv: the disk is blank and read-only: an empty table, and nothing can be put",
            "kv: a not found",
            "kv: put a refused: the disk is read-only",
            "kv: 0 records replayed, 0 appended, 0 keys",
        ], lines);
        Assert.Empty(disk.Written);
    }

    [Fact]
    public void A_failed_write_is_not_reported_as_done_and_stops_the_run()
    {
        var disk = new MemoryDisk(16) { WritesBeforeFailure = 2 };
        var lines = Boot(disk, "put a=1;put b=2;get a");
        Assert.Equal(
        [
            "kv: a new log on a blank disk of 16 sectors",
            "kv: put a",
            "kv: put b failed: the disk did not take the record",
            "kv: stopping: what the disk holds after a failed write is not known",
            "kv: 0 records replayed, 1 appended, 1 keys",
        ], lines);
    }

    [Fact]
    public void A_failed_read_during_replay_stops_before_anything_is_written()
    {
        var disk = new MemoryDisk(64, maxReadSectors: 4);
        for (int i = 0; i < 6; i++) Boot(disk, $"put k{i}=v");
        int written = disk.Written.Count;
        disk.FailingReadSector = 6;
        var lines = Boot(disk, "put x=1");
        Assert.Equal(["kv: reading sector 5 failed; nothing is done"], lines);
        Assert.Equal(written, disk.Written.Count);
    }
}

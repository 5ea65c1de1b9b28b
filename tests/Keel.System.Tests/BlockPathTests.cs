using System.Text.RegularExpressions;
using Keel.Testing;
using Xunit;
using static Keel.System.Tests.SerialContract;

namespace Keel.System.Tests;

/// <summary>Guests doing real disk I/O through blkback, the driver domain that alone owns the virtio-blk device.</summary>
public sealed partial class BlockPathTests
{
    [GeneratedRegex(@"^\((?<guest>alpha|beta)\) disk: (?<mode>write|verify) 16 MiB x 1 in (?<ms>\d+) ms: (?<failed>\d+) requests failed, (?<wrong>\d+) pages wrong, (?<flushes>\d+) flushes; (?<rings>\d+) rings, (?<reissued>\d+) requests issued again, (?<bad>\d+) bad responses$")]
    private static partial Regex Verdict();

    private const int DiskBytes = 48 << 20;

    /// <summary>Boots image with the disk file as QEMU's virtio-blk at 00:04.0 and returns both guests' verdicts once the machine stopped.</summary>
    private static async Task<Match[]> RunGuests(string image, string disk)
    {
        Match[] verdicts = [];
        await Machine.BootAsync(Machine.Image(image) with { ExtraArguments = DeviceTests.VirtioDisk(disk) }, async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(TimeSpan.FromSeconds(300), cancel));
            // The three domains run side by side, so their lines interleave in any order.
            Assert.Contains("(blkback) blkback: version 1 serving 1 disk(s)", qemu.Lines);
            Assert.Contains("(alpha) disk: xvda connected: 40960 sectors", qemu.Lines);
            // beta's data is in blkfront's buffers, granted once per connection and used in place, on an 8-page ring.
            Assert.Contains("(beta) disk: xvda connected: 40960 sectors, persistent grants, buffers in place, 8 ring pages", qemu.Lines);
            Assert.Contains(qemu.Lines, l => l.StartsWith("(blkback) blkback: xvda of domain ", StringComparison.Ordinal) && l.EndsWith(", 8 ring pages)", StringComparison.Ordinal));
            verdicts = qemu.Lines.Select(l => Verdict().Match(l)).Where(m => m.Success).ToArray();
            foreach (Match m in verdicts) TestContext.Current.TestOutputHelper?.WriteLine(m.Value);
            Assert.DoesNotContain(qemu.Lines, l => l.Contains("KERNEL FAULT", StringComparison.Ordinal) || l.Contains("cut off", StringComparison.Ordinal));
        });
        return verdicts;
    }

    [Fact]
    public Task Two_guests_write_16_MiB_each_through_blkback_read_it_back_and_find_it_again_after_QEMU_restarts_on_the_same_disk() =>
        DeviceTests.WithScratchDisk(DiskBytes, async disk =>
        {
            Match[] written = await RunGuests("keel-blk-two-write.img", disk);
            Assert.Equal(2, written.Length);
            foreach (Match m in written)
            {
                Assert.Equal("write", m.Groups["mode"].Value);
                Assert.Equal("0", m.Groups["failed"].Value);
                Assert.Equal("0", m.Groups["wrong"].Value);
                // The write was flushed to stable storage (BLKIF_OP_FLUSH_DISKCACHE) before it was read back.
                Assert.Equal("1", m.Groups["flushes"].Value);
                Assert.Equal("0", m.Groups["bad"].Value);
            }
            // Each guest's data is where its range says, on the file itself: alpha from sector 0, beta from 40960.
            using (var file = File.OpenRead(disk))
            {
                var word = new byte[8];
                file.Position = 0;
                file.ReadExactly(word);
                Assert.Equal(SeededPatterns.DiskWord(1, 0, 0), BitConverter.ToUInt64(word));
                file.Position = 40960L * 512;
                file.ReadExactly(word);
                Assert.Equal(SeededPatterns.DiskWord(2, 0, 0), BitConverter.ToUInt64(word));
            }
            Match[] verified = await RunGuests("keel-blk-two-verify.img", disk);
            Assert.Equal(2, verified.Length);
            foreach (Match m in verified)
            {
                Assert.Equal("verify", m.Groups["mode"].Value);
                Assert.Equal("0", m.Groups["failed"].Value);
                Assert.Equal("0", m.Groups["wrong"].Value);
            }
        });

    [GeneratedRegex(@"^\((?<guest>alpha|beta)\) disk: loop 4 MiB x (?<passes>\d+) in (?<ms>\d+) ms: (?<failed>\d+) requests failed, (?<wrong>\d+) pages wrong, (?<flushes>\d+) flushes; (?<rings>\d+) rings, (?<reissued>\d+) requests issued again, (?<bad>\d+) bad responses$")]
    private static partial Regex LoopVerdict();

    /// <summary>Both guests' verdicts of <paramref name="passes"/> write-flush-verify passes, each printed after
    /// line <paramref name="after"/> (the guest was still writing when <paramref name="what"/> were done), with no
    /// request failed, no page wrong and a flush every pass.</summary>
    private static Match[] LoopVerdicts(IReadOnlyList<string> lines, int passes, int after, string what)
    {
        var verdicts = lines.Select((l, i) => (Match: LoopVerdict().Match(l), Line: i)).Where(v => v.Match.Success).ToArray();
        Assert.Equal(2, verdicts.Length);
        foreach (var (m, line) in verdicts)
        {
            TestContext.Current.TestOutputHelper?.WriteLine(m.Value);
            Assert.Equal(passes.ToString(global::System.Globalization.CultureInfo.InvariantCulture), m.Groups["passes"].Value);
            Assert.True(line > after, $"{m.Groups["guest"].Value} finished before the {what} did");
            Assert.Equal("0", m.Groups["failed"].Value);
            Assert.Equal("0", m.Groups["wrong"].Value);
            Assert.Equal(m.Groups["passes"].Value, m.Groups["flushes"].Value);
        }
        return verdicts.Select(v => v.Match).ToArray();
    }

    [GeneratedRegex(@"^\((?<guest>alpha|beta)\) disk: (?<count>\d+) back-end outages: median (?<median>\d+) ms, worst (?<worst>\d+) ms$")]
    private static partial Regex Outages();

    private static bool Connected(string line) => line.StartsWith("(blkback) blkback: xvda of domain ", StringComparison.Ordinal) && line.EndsWith(")", StringComparison.Ordinal) && line.Contains(" connected (ring-ref ", StringComparison.Ordinal);

    /// <summary>Waits until the transcript holds at least count lines that match.</summary>
    private static async Task AtLeast(Keel.Testing.Qemu.QemuMachine qemu, Func<string, bool> match, int count, TimeSpan timeout, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (qemu.Lines.Count(match) < count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"fewer than {count} matching lines after {timeout}");
            await Task.Delay(100, cancel);
        }
    }

    [Fact]
    public Task While_two_guests_write_and_verify_blkback_is_crashed_ten_times_and_upgraded_once_and_no_acknowledged_write_is_lost() =>
        DeviceTests.WithScratchDisk(DiskBytes, disk =>
            Machine.BootAsync(Machine.Image("keel-blk-swap.img") with { ExtraArguments = DeviceTests.VirtioDisk(disk) }, async (qemu, cancel) =>
            {
                await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
                await AtLeast(qemu, l => l.StartsWith("(alpha) disk: pass ", StringComparison.Ordinal), 1, LineTimeout, cancel);
                Assert.Contains("(alpha) disk: xvda connected: 40960 sectors, persistent grants", qemu.Lines);
                Assert.Contains("(beta) disk: xvda connected: 40960 sectors, persistent grants, buffers in place, 4 ring pages", qemu.Lines);
                await AtLeast(qemu, l => l.StartsWith("(beta) disk: pass ", StringComparison.Ordinal), 1, LineTimeout, cancel);
                for (int crash = 1; crash <= 10; crash++)
                {
                    await qemu.TypeAsync("crash blkback\r", cancel);
                    await AtLeast(qemu, l => l.StartsWith("(dom0) control: restarting blkback (on_crash = restart)", StringComparison.Ordinal), crash, LineTimeout, cancel);
                    await AtLeast(qemu, Connected, 2 * (crash + 1), LineTimeout, cancel);
                }
                await qemu.TypeAsync("upgrade blkback\r", cancel);
                await qemu.WaitForLineAsync(GuestLine("blkback", @"blkback: version 2 serving 1 disk\(s\)"), LineTimeout, cancel);
                await AtLeast(qemu, Connected, 24, LineTimeout, cancel);
                await qemu.TypeAsync("list\r", cancel);
                await qemu.WaitForLineAsync(GuestLine("dom0", @"shell: blkback \(domain \d+\): running, \d+ pages, \d+ ms of CPU, version 2"), LineTimeout, cancel);
                await qemu.TypeAsync("stats blkback\r", cancel);
                await qemu.WaitForLineAsync(GuestLine("dom0", @"shell: stats blkback: xvda of domain \d+: \d+ requests, .*"), LineTimeout, cancel);
                int lastSwap = qemu.Lines.Count;
                Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(TimeSpan.FromSeconds(600), cancel));

                var lines = qemu.Lines;
                // Both guests were still writing when the last swap was done.
                foreach (Match m in LoopVerdicts(lines, 1000, lastSwap, "swaps"))
                {
                    Assert.Equal("0", m.Groups["bad"].Value);
                    // A ring for the first blkback, each of the ten restarts and the upgrade.
                    Assert.Equal("12", m.Groups["rings"].Value);
                }
                foreach (Match m in lines.Select(l => Outages().Match(l)).Where(m => m.Success))
                {
                    TestContext.Current.TestOutputHelper?.WriteLine(m.Value);
                    // Eleven losses of the back-end; two that come before any request is answered in between are one outage.
                    Assert.InRange(int.Parse(m.Groups["count"].Value, global::System.Globalization.CultureInfo.InvariantCulture), 1, 11);
                }
                Assert.Equal(10, lines.Count(l => l.Contains("blkback: fault injected: executing ud2", StringComparison.Ordinal)));
                Assert.DoesNotContain(lines, l => l.Contains("KERNEL FAULT", StringComparison.Ordinal));
            }));

    [Fact]
    public Task A_hostile_front_end_is_refused_or_cut_off_case_by_case_while_two_honest_guests_keep_verifying() =>
        DeviceTests.WithScratchDisk(DiskBytes, disk =>
            Machine.BootAsync(Machine.Image("keel-blk-hostile.img") with { ExtraArguments = DeviceTests.VirtioDisk(disk) }, async (qemu, cancel) =>
            {
                await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
                async Task Expect(string text) => await qemu.WaitForLineAsync(GuestLine("hostile", "hostile-disk: " + text), LineTimeout, cancel);
                await Expect("xvda connected, 4096 sectors");
                await Expect("a well-formed read: 0");
                // HOSTILE-INPUTS class 7: every malformed request is answered BLKIF_RSP_ERROR (-1) or EOPNOTSUPP (-2), never served.
                foreach (string refused in new[] { "no segments", "12 segments", "first_sect after last_sect", "last_sect 8", "the sector past the end",
                    "a range running past the end", "a sector near 2\\^64", "operation 4", "operation 200" })
                {
                    await Expect(refused + ": -1");
                }
                await Expect("a discard it was not offered: -2");
                // Class 6: grants that are not there, are another domain's, or are read-only for a read.
                await Expect("a grant never given: -1");
                await Expect("a grant given to another domain: -1");
                await Expect("a read into a read-only grant: -1");
                await Expect("a write from a read-only grant: 0");
                await Expect("the same id twice: (-1 and 0|0 and -1)");
                // 32 requests of 11 pages in one pass: 352 pages, mapped in more than one hypercall.
                await Expect("a full ring of 32 11-page reads at once: 32 served");
                // Class 9: reconnecting again and again, a new ring each time; the back-end serves every one.
                await Expect("20 reconnections, each with a new ring: 20 served");
                // Multi-page rings: an order past the one offered, a ring-ref missing or never granted, each refused.
                await Expect("ring-page-order 4: -1");
                await Expect("ring-page-order 1 without ring-ref1: -1");
                await Expect("ring-page-order 1 with ring-ref1 never granted: -1");
                await Expect("a two-page ring: 0");
                await Expect("back to one page: 0");
                await Expect("a read of the read-only disk: 0");
                await Expect("a write to the read-only disk: -1");
                // Class 8, then class 1: a flood of events changes nothing; a producer index past the ring cuts it off.
                await Expect("100000 events sent to blkback");
                await Expect("a read after the flood: 0");
                await Expect("a producer index 64 past the ring: blkback closed the device");
                int attacksDone = qemu.Lines.Count;
                Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(TimeSpan.FromSeconds(300), cancel));
                var lines = qemu.Lines;
                Assert.Contains("(blkback) blkback: xvda of domain 4 cut off: its ring's indices are impossible", lines);
                foreach (Match m in LoopVerdicts(lines, 500, attacksDone, "attacks"))
                {
                    Assert.Equal("1", m.Groups["rings"].Value);
                }
                Assert.DoesNotContain(lines, l => l.Contains("(blkback) fatal", StringComparison.Ordinal) || l.Contains("blkback (domain 1) ended: crash", StringComparison.Ordinal));
            }));
}

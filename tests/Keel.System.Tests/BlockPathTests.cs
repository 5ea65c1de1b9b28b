using System.Text.RegularExpressions;
using Xunit;
using static Keel.System.Tests.SerialContract;

namespace Keel.System.Tests;

/// <summary>Guests doing real disk I/O through blkback, the driver domain that alone owns the virtio-blk device.</summary>
public sealed partial class BlockPathTests
{
    [GeneratedRegex(@"^\((?<guest>alpha|beta)\) disk: (?<mode>write|verify) 16 MiB x 1 in (?<ms>\d+) ms: (?<failed>\d+) requests failed, (?<wrong>\d+) pages wrong; (?<connections>\d+) connections, (?<reissued>\d+) requests issued again, (?<bad>\d+) bad responses$")]
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
            Assert.Contains("(beta) disk: xvda connected: 40960 sectors", qemu.Lines);
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
                Assert.Equal("0", m.Groups["bad"].Value);
            }
            // Each guest's data is where its range says, on the file itself: alpha from sector 0, beta from 40960.
            using (var file = File.OpenRead(disk))
            {
                var word = new byte[8];
                file.Position = 0;
                file.ReadExactly(word);
                Assert.Equal(DiskPattern(1, 0, 0), BitConverter.ToUInt64(word));
                file.Position = 40960L * 512;
                file.ReadExactly(word);
                Assert.Equal(DiskPattern(2, 0, 0), BitConverter.ToUInt64(word));
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

    /// <summary>The guests' pattern (guests/tests/DiskWriter.cs): splitmix64 of the seed, the disk page and the word.</summary>
    internal static ulong DiskPattern(ulong seed, ulong page, int word)
    {
        ulong z = seed * 0x100000001B3UL + page * 512 + (ulong)word + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

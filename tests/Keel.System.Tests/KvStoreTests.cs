using System.Text;
using Xunit;
using static Keel.System.Tests.SerialContract;

namespace Keel.System.Tests;

/// <summary>The key-value store domain (guests/kvstore): what one boot puts on its disk, the next boot gets back.</summary>
public sealed class KvStoreTests
{
    private const int DiskBytes = 1 << 20;

    /// <summary>Boots image on the disk file as QEMU's virtio-blk at 00:04.0; returns the kv domain's lines once the machine stopped.</summary>
    private static async Task<string[]> Boot(string image, string disk)
    {
        string[] lines = [];
        await Machine.BootAsync(Machine.Image(image) with { ExtraArguments = DeviceTests.VirtioDisk(disk) }, async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(TimeSpan.FromSeconds(180), cancel));
            Assert.Contains("(blkback) blkback: version 1 serving 1 disk(s)", qemu.Lines);
            Assert.DoesNotContain(qemu.Lines, l => l.Contains("KERNEL FAULT", StringComparison.Ordinal));
            lines = qemu.Lines.Where(l => l.StartsWith("(kv) ", StringComparison.Ordinal)).ToArray();
            foreach (string line in lines) TestContext.Current.TestOutputHelper?.WriteLine(line);
        });
        return lines;
    }

    [Fact]
    public Task Keys_put_in_one_boot_come_back_in_the_next_after_QEMU_restarts_on_the_same_disk() =>
        DeviceTests.WithScratchDisk(DiskBytes, async disk =>
        {
            Assert.Equal(
            [
                "(kv) kv: a new log on a blank disk of 2048 sectors",
                "(kv) kv: put colour",
                "(kv) kv: put n",
                "(kv) kv: put sky",
                "(kv) kv: put n",
                "(kv) kv: del sky",
                "(kv) kv: put gone",
                "(kv) kv: del gone",
                "(kv) kv: 0 records replayed, 7 appended, 2 keys",
            ], await Boot("keel-kvstore-put.img", disk));

            // The log is on the file itself: the header in sector 0, record 0 (put colour=blue) in sector 1.
            byte[] bytes = File.ReadAllBytes(disk);
            Assert.Equal("kvstore\0", Encoding.ASCII.GetString(bytes, 0, 8));
            Assert.Equal("kvr1", Encoding.ASCII.GetString(bytes, 512, 4));
            Assert.Equal("colourblue", Encoding.ASCII.GetString(bytes, 512 + 20, 6) + Encoding.ASCII.GetString(bytes, 512 + 84, 4));

            Assert.Equal(
            [
                "(kv) kv: colour = blue",
                "(kv) kv: n = 43",
                "(kv) kv: sky not found",
                "(kv) kv: gone not found",
                "(kv) kv: 2 keys: colour, n",
                "(kv) kv: 7 records replayed, 0 appended, 2 keys",
            ], await Boot("keel-kvstore-get.img", disk));
        });
}

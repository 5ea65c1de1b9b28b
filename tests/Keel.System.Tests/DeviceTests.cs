using System.Text.RegularExpressions;
using Keel.Testing;
using Xunit;
using static Keel.System.Tests.SerialContract;

namespace Keel.System.Tests;

/// <summary>A PCI device given to one domain: what it may reach, what it is refused, and what happens to the device when the domain ends.</summary>
public sealed class DeviceTests
{
    /// <summary>QEMU's virtio-blk on the slot the manifests name (00:04.0), backed by a scratch file of the given size.</summary>
    internal static string[] VirtioDisk(string file, int slot = 4, string id = "disk0") =>
        ["-drive", $"if=none,id={id},format=raw,file={file}", "-device", $"virtio-blk-pci,drive={id},addr=0x{slot:x}"];

    /// <summary>Runs body with a zero-filled scratch disk file of the given size, deleted afterwards.</summary>
    internal static async Task WithScratchDisk(int bytes, Func<string, Task> body)
    {
        string disk = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(disk, new byte[bytes]);
            await body(disk);
        }
        finally
        {
            File.Delete(disk);
        }
    }

    [Fact]
    public Task A_domain_given_a_device_reaches_its_configuration_space_bars_and_line_and_nothing_else() =>
        WithScratchDisk(1 << 20, disk =>
            Machine.BootAsync(Machine.Image("keel-device-probe.img") with { ExtraArguments = VirtioDisk(disk) }, async (qemu, cancel) =>
            {
                await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
                await qemu.WaitForLineAsync(GuestLine("dom0", @"control: gave PCI 00:04\.0 \(1af4:10(01|42)\) to probe \(domain 1\):.* memory 0x[0-9a-f]+\+16384.*, irq \d+"), LineTimeout, cancel);
                string Probe(string text) => $"device: {text}";
                async Task Expect(string text) => await qemu.WaitForLineAsync(GuestLine("probe", Probe(text)), LineTimeout, cancel);
                await Expect(@"bus 0 shows 00:04\.0 1af4:10(01|42)");
                await Expect("1 function answers, 255 refused with -ENODEV");
                await Expect("writing the host bridge: -19");
                await Expect("reading past the configuration space: -22");
                await Expect("an unaligned read: -22");
                await Expect("enabling memory decoding and bus mastering: 0");
                await Expect("moving BAR0: -1");
                await Expect("writing the ROM base: -1");
                await Expect(@"BAR\d mapped; the common configuration says 1 queue\(s\)");
                await Expect("mapping the frame past the BAR: -1");
                await Expect(@"mapping a line not given \(\d\): -1");
                await Expect(@"mapping its line (?<line>\d+): pirq \k<line>");
                await Expect("binding it: a port");
                await Expect("binding it again: -17");
                await Expect("it needs an end of interrupt: 1");
                await Expect("ending it: 0");
                await Expect("mapping it for the control domain: -1");
                await Expect("done");
                await qemu.WaitForLineAsync(new Regex(@"^keel: PCI 00:04\.0 quiesced \(bus mastering and decoding off\) and taken back$"), LineTimeout, cancel);
                Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(TimeSpan.FromSeconds(60), cancel));
            }));

    [Fact]
    public Task The_block_driver_domain_alone_writes_and_reads_back_4_MiB_through_its_virtio_blk_device() =>
        WithScratchDisk(8 << 20, async disk =>
        {
            await Machine.BootAsync(Machine.Image("keel-blk-direct.img") with { ExtraArguments = VirtioDisk(disk) }, async (qemu, cancel) =>
            {
                await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
                await qemu.WaitForLineAsync(GuestLine("blkback", @"blkback: vda is 00:04\.0: 16384 sectors, write cache, queue of \d+.*, line \d+"), LineTimeout, cancel);
                var done = await qemu.WaitForLineAsync(GuestLine("blkback", @"blkback: direct: 4 MiB written in (?<write>\d+) ms and read back in (?<read>\d+) ms, (?<bad>\d+) bad requests"), TimeSpan.FromSeconds(120), cancel);
                Assert.Equal("0", done.Match.Groups["bad"].Value);
                Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(TimeSpan.FromSeconds(60), cancel));
            });
            // The data is on the disk file itself, where the pattern says it is: word 0 of disk page 1.
            byte[] written = File.ReadAllBytes(disk);
            Assert.Equal(SeededPatterns.DiskWord(0, 1, 0), BitConverter.ToUInt64(written, 4096));
            Assert.Equal(0UL, BitConverter.ToUInt64(written, 4 << 20));
        });
}

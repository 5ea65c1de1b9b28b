using System.Text.RegularExpressions;
using Xunit;
using static Keel.System.Tests.SerialContract;

namespace Keel.System.Tests;

/// <summary>
/// Debian's GRUB for Xen (grub-xen-bin, unmodified; the build makes it with grub-mkimage and the script
/// Grub/hello.cfg) as domain 1, named grub, with 32 MiB (Manifests/guest-grub.toml). What it asks of the
/// hypervisor is in GRUB-FOR-XEN.md: Xen's PV64 layout at VIRT_BASE 0, map_all_pages' switch to page tables
/// of its own, the console ring and the store, all by polling with SCHEDOP_yield.
/// </summary>
public sealed partial class GrubTests
{
    [GeneratedRegex(@"^keel: domain 1 \(grub\) built: 32 MiB, \d+ bytes of kernel heap, in \d+ us; \d+ frames free$")]
    private static partial Regex GrubBuilt();

    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long GRUB is watched while it waits for the store: its setup takes a few hundred
    /// milliseconds under QEMU TCG.</summary>
    private static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(5);

    [Fact]
    public Task Debians_GRUB_for_Xen_is_built_at_virt_base_zero_and_switches_to_its_own_page_tables_without_a_fault() =>
        Machine.BootAsync(Machine.Image("keel-guest-grub.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            await qemu.WaitForLineAsync(GrubBuilt(), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("dom0", @"control: started grub as domain 1"), LineTimeout, cancel);
            // GRUB ignores every hypercall's result. Had its page-table switch failed, its first touch of the
            // console ring, shared_info or the grant table through the new tables would fault, and a fault
            // with no handler crashes the domain with a report. Without a store it then waits for the
            // store's answer to its first request; with one it runs its script and powers off.
            await Task.Delay(SettleTime, cancel);
            Assert.DoesNotContain(qemu.Lines, l => DomainCrashed().IsMatch(l) || GuestException().IsMatch(l));
            Assert.DoesNotContain(qemu.Lines, l => l.Contains("KERNEL FAULT", StringComparison.Ordinal));
            Assert.DoesNotContain(qemu.Lines, l => l.StartsWith("(dom0) control: grub (domain 1) ended: crash", StringComparison.Ordinal));
        });

    [Fact]
    public Task Debians_GRUB_for_Xen_boots_as_a_guest_prints_through_the_console_back_end_reads_its_name_and_domid_from_the_store_and_halts_with_poweroff() =>
        Machine.BootAsync(Machine.Image("keel-guest-grub.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            // The script's lines in order: echo, then xen_cat name and xen_cat domid, which the store answers
            // from /local/domain/1/ (GRUB's paths are relative).
            await qemu.WaitForLineAsync(GuestLine("grub", "hello from grub"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("grub", "grub"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("grub", "1"), LineTimeout, cancel);
            // halt is SCHEDOP_shutdown with SHUTDOWN_poweroff (grub-core/lib/xen/halt.c).
            await qemu.WaitForLineAsync(GuestLine("dom0", @"control: grub \(domain 1\) ended: poweroff"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("dom0", "control: every domain powered off; shutting down"), LineTimeout, cancel);
            var after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel)).Match;
            while (Number(after.Groups["alive"]) != 0) after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel)).Match;
            Assert.Equal(Number(built.Groups["before"]), Number(after.Groups["free"]));
            Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(ExitTimeout, cancel));
        });

    /// <summary>An ext2 disk of 4 MiB holding hello.txt, made with mke2fs -d as GRUB-FOR-XEN.md shows (reproducible: fixed time, UUID and hash seed).</summary>
    private static void MakeExt2Disk(string image, string text)
    {
        string root = Directory.CreateTempSubdirectory("keel-ext2-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(root, "hello.txt"), text);
            var start = new global::System.Diagnostics.ProcessStartInfo("mke2fs")
            {
                ArgumentList = { "-q", "-F", "-t", "ext2", "-b", "1024", "-L", "keeltest", "-U", "11111111-2222-3333-4444-555555555555",
                    "-E", "hash_seed=11111111-2222-3333-4444-555555555555", "-d", root, image, "4M" },
                RedirectStandardError = true,
            };
            start.Environment["E2FSPROGS_FAKE_TIME"] = "1700000000";
            using var mke2fs = global::System.Diagnostics.Process.Start(start)!;
            string errors = mke2fs.StandardError.ReadToEnd();
            mke2fs.WaitForExit();
            Assert.True(mke2fs.ExitCode == 0, "mke2fs failed: " + errors);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public Task Debians_GRUB_for_Xen_lists_and_reads_an_ext2_disk_that_blkback_serves() =>
        DeviceTests.WithScratchDisk(0, async disk =>
        {
            MakeExt2Disk(disk, "hello from xvda\n");
            await Machine.BootAsync(Machine.Image("keel-guest-grub-disk.img") with { ExtraArguments = DeviceTests.VirtioDisk(disk) }, async (qemu, cancel) =>
            {
                await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
                await qemu.WaitForLineAsync(GuestLine("grub", "hello from grub"), LineTimeout, cancel);
                // ls (xen/xvda)/ then cat (xen/xvda)/hello.txt, as on real Xen 4.17 (GRUB-FOR-XEN.md).
                await qemu.WaitForLineAsync(GuestLine("grub", @"lost\+found/ +hello\.txt *"), LineTimeout, cancel);
                await qemu.WaitForLineAsync(GuestLine("grub", "hello from xvda"), LineTimeout, cancel);
                await qemu.WaitForLineAsync(GuestLine("dom0", @"control: grub \(domain 2\) ended: poweroff"), LineTimeout, cancel);
                Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(ExitTimeout, cancel));
                Assert.Contains(qemu.Lines, l => l.StartsWith("(blkback) blkback: xvda of domain 2 connected", StringComparison.Ordinal));
            });
        });
}

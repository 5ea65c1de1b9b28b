using Xunit;
using static Keel.System.Tests.SerialContract;

namespace Keel.System.Tests;

/// <summary>
/// Domains: the kernel builds a PV64 guest from a boot module, runs it in ring 3 on Xen's ABI, and ends it
/// alone when it shuts down or faults, getting back every frame it gave it.
/// </summary>
public sealed class DomainTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public Task A_guest_gets_Xens_start_info_and_version_hypercall_errors_and_powers_off_with_every_frame_returned() =>
        Machine.BootAsync(Machine.Image("keel-guest-hello.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            Assert.Equal(16, Number(built.Groups["mib"]));
            var startInfo = await qemu.WaitForLineAsync(GuestLine("dom0", @"start_info: magic (?<magic>\S+), (?<pages>\d+) pages, (?<tables>\d+) page-table frames, flags (?<flags>0x[0-9a-f]+)"), LineTimeout, cancel);
            Assert.Equal("xen-3.0-x86_64", startInfo.Match.Groups["magic"].Value);
            Assert.Equal(16 * 256, Number(startInfo.Match.Groups["pages"]));
            // One L4, L3 and L2 and the L1s for the initial mapping (4 MiB: two L1s).
            Assert.Equal(5, Number(startInfo.Match.Groups["tables"]));
            // SIF_PRIVILEGED | SIF_INITDOMAIN: the initial domain is the control domain.
            Assert.Equal(3UL, Hex(startInfo.Match.Groups["flags"]));
            await qemu.WaitForLineAsync(GuestLine("dom0", @"xen_version: 4\.17\.0-keel"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("dom0", "console_io with a kernel pointer: -14"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("dom0", "console_io with an unmapped pointer: -14"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("dom0", "hypercall 99: -38"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("dom0", "yield: 0"), LineTimeout, cancel);
            var shutdown = (await qemu.WaitForLineAsync(DomainShutDown(), LineTimeout, cancel)).Match;
            Assert.Equal("poweroff", shutdown.Groups["reason"].Value);
            var after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel)).Match;
            Assert.Equal(Number(built.Groups["before"]), Number(after.Groups["free"]));
            await qemu.WaitForLineAsync(NoDomainRunning(), LineTimeout, cancel);
            Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(ExitTimeout, cancel));
        });

    [Theory]
    [InlineData("keel-guest-divide.img", "divide", "#DE divide error", 0)]
    [InlineData("keel-guest-pagefault.img", "page", "#PF page fault", 14)]
    [InlineData("keel-guest-opcode.img", "opcode", "#UD invalid opcode", 6)]
    public Task A_guest_that_faults_without_a_handler_is_crashed_alone_with_a_report_and_its_frames_come_back(string image, string kind, string exception, int vector) =>
        Machine.BootAsync(Machine.Image(image), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            await qemu.WaitForLineAsync(GuestLine("dom0", $@"test domain: faulting on purpose \({kind}\)"), LineTimeout, cancel);
            var crash = await qemu.WaitForLineAsync(DomainCrashed(), LineTimeout, cancel);
            Assert.Equal("dom0", crash.Match.Groups["name"].Value);
            var after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel)).Match;
            Assert.Equal(Number(built.Groups["before"]), Number(after.Groups["free"]));
            // The report's lines lie between the crash line and the frame count, in any order.
            var report = qemu.Lines.Skip(crash.Number).ToList();
            var line = Assert.Single(report, l => GuestException().IsMatch(l));
            var match = GuestException().Match(line);
            Assert.Equal(exception, match.Groups["name"].Value);
            Assert.Equal(vector, int.Parse(match.Groups["vector"].Value));
            Assert.Contains(report, l => l.StartsWith("rip 0xffffffff8", StringComparison.Ordinal) && l.EndsWith("in guest kernel mode", StringComparison.Ordinal));
            Assert.Contains(report, l => FaultBytes().IsMatch(l) && !l.Contains("not mapped"));
            if (vector == 14) Assert.Contains(report, l => l.StartsWith("cr2 0x0000000000001000", StringComparison.Ordinal));
            // The kernel itself goes on: it reports the end and shuts down cleanly.
            Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(ExitTimeout, cancel));
            Assert.DoesNotContain(qemu.Lines, l => l.Contains("still running after the fault", StringComparison.Ordinal));
            Assert.DoesNotContain(qemu.Lines, l => l.Contains("KERNEL FAULT", StringComparison.Ordinal));
        });
}

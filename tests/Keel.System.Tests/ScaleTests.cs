using System.Text.RegularExpressions;
using Xunit;
using static Keel.System.Tests.SerialContract;

namespace Keel.System.Tests;

/// <summary>Scale: the paper's 128 domains run at once in a 1 GiB machine, each keeping its own memory intact.</summary>
public sealed partial class ScaleTests
{
    [GeneratedRegex(@"^\(dom0\) control: (?<count>\d+) domains started in (?<ms>\d+) ms; (?<running>\d+) running at system time (?<at>\d+) ms$")]
    private static partial Regex AllStarted();

    [GeneratedRegex(@"^keel: domain \d+ \(beat-\d+\) built: 4 MiB, (?<heap>\d+) bytes of kernel heap, in \d+ us; \d+ frames free$")]
    private static partial Regex Built();

    [GeneratedRegex(@"^\((?<name>beat-\d+)\) heartbeat (?<beat>\d+): memory verified$")]
    private static partial Regex Beat();

    [Fact]
    public Task A_hundred_and_twenty_eight_domains_run_at_once_in_1_GiB_and_each_verifies_its_memory_while_the_others_run() =>
        Machine.BootAsync(Machine.Image("keel-many.img") with { MemoryMiB = 1024 }, async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            var started = (await qemu.WaitForLineAsync(AllStarted(), LineTimeout, cancel)).Match;
            Assert.Equal(128, Number(started.Groups["count"]));
            Assert.Equal(128, Number(started.Groups["running"]));
            await qemu.WaitForLineAsync(GuestLine("dom0", "control: every domain powered off; shutting down"), TimeSpan.FromSeconds(120), cancel);
            var after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel)).Match;
            Assert.Equal(Number(built.Groups["before"]), Number(after.Groups["free"]));
            Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(TimeSpan.FromSeconds(30), cancel));

            var heap = qemu.Lines.Select(l => Built().Match(l)).Where(m => m.Success).Select(m => Number(m.Groups["heap"])).ToList();
            Assert.Equal(128, heap.Count);
            // Beats after every domain had started show all 128 alive and intact at once.
            var beats = qemu.Lines.Select(l => Beat().Match(l)).Where(m => m.Success).GroupBy(m => m.Groups["name"].Value).ToDictionary(g => g.Key, g => g.Count());
            Assert.Equal(128, beats.Count);
            Assert.All(beats.Values, count => Assert.True(count >= 3, $"{count} beats"));
            Assert.DoesNotContain(qemu.Lines, l => l.Contains("words changed", StringComparison.Ordinal));
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"128 domains started in {started.Groups["ms"].Value} ms, all running at system time {started.Groups["at"].Value} ms; kernel heap per domain {heap.Max()} bytes");
            Assert.All(heap, bytes => Assert.True(bytes <= 20 * 1024, $"{bytes} bytes of kernel heap for one domain"));
        });
}

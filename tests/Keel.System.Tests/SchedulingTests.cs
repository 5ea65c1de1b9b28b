using System.Text.RegularExpressions;
using Xunit;
using static Keel.System.Tests.SerialContract;

namespace Keel.System.Tests;

/// <summary>Scheduling: Borrowed Virtual Time shares the CPU by weight, and a warped domain that sleeps is served first when it wakes.</summary>
public sealed partial class SchedulingTests
{
    [GeneratedRegex(@"^\((?<name>spin-\d)\) spin: ran (?<ran>\d+) us of the (?<window>\d+) us window")]
    private static partial Regex Spin();

    [GeneratedRegex(@"^\((?<name>\w+)\) sleeper: (?<wakes>\d+) wakes, late by median (?<median>\d+) us, 90th percentile (?<p90>\d+) us, max (?<max>\d+) us$")]
    private static partial Regex Sleeper();

    /// <summary>
    /// The warped sleeper (warp 10 ms, limit 5 ms, unwarp 50 ms) must run within the context-switch
    /// allowance C = 5 ms of at least 90% of its wake-ups, though three domains spin (the rest are left to
    /// the host: QEMU's emulated CPU can itself be descheduled for milliseconds); unwarped, the same sleeper
    /// waits for the spinners' allowances.
    /// </summary>
    private const long WarpedLatencyBoundUs = 5000;

    [Fact]
    public Task Three_spinning_domains_weighted_1_2_4_share_the_CPU_within_10_percent_and_a_warped_sleeper_runs_within_C_of_nine_wakes_in_ten() =>
        Machine.BootAsync(Machine.Image("keel-bvt.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("dom0", "control: every domain powered off; shutting down"), TimeSpan.FromSeconds(90), cancel);
            Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(TimeSpan.FromSeconds(30), cancel));

            var ran = qemu.Lines.Select(l => Spin().Match(l)).Where(m => m.Success)
                .ToDictionary(m => m.Groups["name"].Value, m => (double)Number(m.Groups["ran"]));
            Assert.Equal(3, ran.Count);
            Assert.All(qemu.Lines.Select(l => Spin().Match(l)).Where(m => m.Success), m => Assert.True(Number(m.Groups["window"]) >= 2_000_000));
            double total = ran.Values.Sum();
            var report = new List<string>();
            foreach (var (name, weight) in new[] { ("spin-1", 1.0), ("spin-2", 2.0), ("spin-4", 4.0) })
            {
                double share = ran[name] / total, expected = weight / 7.0;
                report.Add($"{name}: {share:P2} of the spinners' CPU (expected {expected:P2})");
                Assert.InRange(share, expected * 0.9, expected * 1.1);
            }

            var sleepers = qemu.Lines.Select(l => Sleeper().Match(l)).Where(m => m.Success).ToDictionary(m => m.Groups["name"].Value);
            var warped = sleepers["warped"];
            var unwarped = sleepers["unwarped"];
            report.Add($"warped sleeper: late by median {warped.Groups["median"].Value} us, 90th percentile {warped.Groups["p90"].Value} us, max {warped.Groups["max"].Value} us; " +
                $"unwarped: median {unwarped.Groups["median"].Value} us, 90th percentile {unwarped.Groups["p90"].Value} us, max {unwarped.Groups["max"].Value} us");
            TestContext.Current.TestOutputHelper?.WriteLine(string.Join("\n", report));
            Assert.True(Number(warped.Groups["wakes"]) >= 200);
            Assert.True(Number(warped.Groups["p90"]) <= WarpedLatencyBoundUs, report[^1]);
            Assert.True(Number(warped.Groups["median"]) < Number(unwarped.Groups["median"]), report[^1]);
        });
}

using System.Text.RegularExpressions;
using Xunit;
using static Keel.System.Tests.SerialContract;

namespace Keel.System.Tests;

/// <summary>Security: a hostile domain gets error codes and traps for everything it tries; the kernel and two honest domains go on unharmed.</summary>
public sealed partial class HostileDomainTests
{
    [GeneratedRegex(@"^\(hostile\) hostile: result (?<code>-\d+|0|positive): (?<calls>\d+) calls$")]
    private static partial Regex Result();

    [Fact]
    public Task A_hostile_domain_is_refused_everything_and_its_100000_random_hypercalls_harm_no_one() =>
        Machine.BootAsync(Machine.Image("keel-hostile.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            (string Attack, string Outcome)[] named =
            [
                ("read kernel memory", "trap 14"), ("write kernel memory", "trap 14"), ("read the direct map", "trap 14"),
                (@"map another domain's frame 0x[0-9a-f]+", "error -16"), ("map its own L4 writable", "error -16"),
                (@"write L4 slot 261 \(the kernel image\)", "error -22"),
                ("cli", "trap 13"), ("hlt", "trap 13"), ("out", "trap 13"), ("wrmsr", "trap 13"), ("mov to cr3", "trap 13"), ("lgdt", "trap 13"),
                ("domctl getdomaininfo", "error -1"), ("domctl destroy of the control domain", "error -1"),
            ];
            foreach (var (attack, outcome) in named)
            {
                await qemu.WaitForLineAsync(GuestLine("hostile", $"hostile: {attack}: {outcome}"), LineTimeout, cancel);
            }
            await qemu.WaitForLineAsync(GuestLine("hostile", @"hostile: 100000 random hypercalls with seed 20261201, \d+ distinct results:"), TimeSpan.FromSeconds(90), cancel);
            await qemu.WaitForLineAsync(GuestLine("dom0", "control: every domain powered off; shutting down"), TimeSpan.FromSeconds(60), cancel);
            var after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel)).Match;
            Assert.Equal(Number(built.Groups["before"]), Number(after.Groups["free"]));
            Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(TimeSpan.FromSeconds(30), cancel));

            var results = qemu.Lines.Select(l => Result().Match(l)).Where(m => m.Success).ToDictionary(m => m.Groups["code"].Value, m => Number(m.Groups["calls"]));
            Assert.Equal(100_000, results.Values.Sum());
            TestContext.Current.TestOutputHelper?.WriteLine(string.Join(", ", results.Select(r => $"{r.Key}: {r.Value}")));
            // Every refusal is one of Xen's error codes.
            Assert.All(results.Keys.Where(k => k.StartsWith('-')), k => Assert.InRange(int.Parse(k), -125, -1));
            // Both honest domains kept beating with their memory intact all along.
            foreach (string honest in new[] { "honest-0", "honest-1" })
            {
                Assert.True(qemu.Lines.Count(l => l.StartsWith($"({honest}) heartbeat ", StringComparison.Ordinal) && l.EndsWith(": memory verified", StringComparison.Ordinal)) >= 5);
            }
            Assert.DoesNotContain(qemu.Lines, l => l.Contains("words changed", StringComparison.Ordinal) || l.Contains("KERNEL FAULT", StringComparison.Ordinal) || l.Contains("crashed", StringComparison.Ordinal));
        });
}

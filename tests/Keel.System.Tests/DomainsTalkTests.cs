using System.Globalization;
using System.Text.RegularExpressions;
using Xunit;
using static Keel.System.Tests.SerialContract;

namespace Keel.System.Tests;

/// <summary>Domains cooperating without trusting each other: a ring in a granted page, event channels, the store.</summary>
public sealed partial class DomainsTalkTests
{
    [GeneratedRegex(@"^\(ping\) ping: (?<answered>\d+) of 100000 answered, (?<bad>\d+) bad, in (?<ms>\d+) ms; (?<notes>\d+) notifications sent \((?<per>[\d.]+) a message\), (?<waits>\d+) waits$")]
    private static partial Regex PingDone();

    [GeneratedRegex(@"^\(pong\) pong: (?<answered>\d+) answered, (?<bad>\d+) bad checksums, (?<notes>\d+) notifications sent \((?<per>[\d.]+) a message\)$")]
    private static partial Regex PongDone();

    [Fact]
    public Task Two_domains_ping_pong_100000_checksummed_messages_over_a_ring_in_a_granted_page_notifying_only_when_the_ring_says_so() =>
        Machine.BootAsync(Machine.Image("keel-pingpong.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("ping", @"ping: ring of 32 slots granted to domain 2 as reference \d+, port \d+"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("pong", "pong: connected to domain 1's ring"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("ping", "ping: the grant was taken back after the peer finished"), TimeSpan.FromSeconds(120), cancel);
            Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(TimeSpan.FromSeconds(30), cancel));
            // Each side reports when it is done, in whichever order they get there.
            var ping = qemu.Lines.Select(l => PingDone().Match(l)).Single(m => m.Success);
            var pong = qemu.Lines.Select(l => PongDone().Match(l)).Single(m => m.Success);

            Assert.Equal(100_000, Number(ping.Groups["answered"]));
            Assert.Equal(0, Number(ping.Groups["bad"]));
            Assert.Equal(100_000, Number(pong.Groups["answered"]));
            Assert.Equal(0, Number(pong.Groups["bad"]));
            // Notifications go only to a side that said it would sleep: fewer than one a message each way.
            Assert.InRange(double.Parse(ping.Groups["per"].Value, CultureInfo.InvariantCulture), 0, 1);
            Assert.InRange(double.Parse(pong.Groups["per"].Value, CultureInfo.InvariantCulture), 0, 1);
            TestContext.Current.TestOutputHelper?.WriteLine($"ping: {ping.Value}\npong: {pong.Value}");
            Assert.DoesNotContain(qemu.Lines, l => l.Contains("crashed", StringComparison.Ordinal) || l.Contains("KERNEL FAULT", StringComparison.Ordinal));
        });

    [GeneratedRegex(@"^\(hostile\) hostile-talk: store nodes written before the quota: (?<written>\d+), then (?<error>\d+)$")]
    private static partial Regex QuotaReached();

    [Fact]
    public Task A_hostile_domain_is_refused_every_grant_port_and_store_attack_while_an_honest_pair_ping_pongs_and_verifies() =>
        Machine.BootAsync(Machine.Image("keel-hostile-talk.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            await qemu.WaitForLineAsync(GuestLine("dom0", "control: every domain powered off; shutting down"), TimeSpan.FromSeconds(120), cancel);
            var after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel)).Match;
            while (Number(after.Groups["alive"]) != 0) after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel)).Match;
            Assert.Equal(Number(built.Groups["before"]), Number(after.Groups["free"]));
            Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(TimeSpan.FromSeconds(30), cancel));

            var lines = qemu.Lines.ToList();
            int Find(string prefix)
            {
                int at = lines.FindIndex(l => l.StartsWith(prefix, StringComparison.Ordinal));
                Assert.True(at >= 0, $"no line starting \"{prefix}\"");
                return at;
            }
            (string Case, string Result)[] cases =
            [
                // The store: EACCES (13) for other domains' nodes.
                ("store write to the ping domain's data", "13"), ("store write to the pong domain's name", "13"),
                ("store read of the ping domain's ring reference", "13"),
                // Xen's quotas: 10 open transactions, then ENOSPC (28).
                ("transactions opened before the quota", "10, then 28"),
                // Grants: GNTST_general_error (-1) for a grant not offered to the caller, bad_gntref (-3) past the
                // table, bad_copy_arg (-10) across a page, permission_denied (-8) for another domain's frame.
                ("map a grant never given", "-1"), ("map the ping ring's grant, given to another domain", "-1"),
                ("map a reference past the table", "-3"), ("map a revoked grant", "-1"), ("map a read-only grant writable", "-1"),
                ("copy into a read-only grant", "-1"), ("copy across a page", "-10"), ("copy from another domain's frame", "-8"),
                // Event channels: -EINVAL for ports not offered to it or closed; -ENOSPC once its 4092 free ports are gone
                // (the builder took two, its event wait one for VIRQ_TIMER).
                ("bind ports 1-16 of the ping domain (refusals)", "16"), ("send on a closed port", "-22"),
                ("ports until exhausted", "4092, then -28"), ("events sent to the control domain on its console port", "100000"),
                ("malformed store message sent", "yes"),
            ];
            foreach (var (what, result) in cases) Assert.Contains($"(hostile) hostile-talk: {what}: {result}", lines);
            // The node quota is 1000 a domain, counting the nodes the toolstack gave it; then ENOSPC (28).
            var quota = QuotaReached().Match(lines[Find("(hostile) hostile-talk: store nodes written before the quota")]);
            Assert.InRange(Number(quota.Groups["written"]), 900, 999);
            Assert.Equal(28, Number(quota.Groups["error"]));

            int finished = lines.FindIndex(l => PairDone().IsMatch(l));
            Assert.True(finished >= 0, "the ping domain never reported its talk");
            var ping = PairDone().Match(lines[finished]);
            Assert.Equal(0, Number(ping.Groups["bad"]));
            Assert.Equal(Number(ping.Groups["sent"]), Number(ping.Groups["answered"]));
            Assert.Equal(1_500_000, Number(ping.Groups["answered"]));
            Assert.Contains(lines, l => l.StartsWith($"(pong) pong: {ping.Groups["answered"].Value} answered, 0 bad checksums", StringComparison.Ordinal));
            // Every attack landed while the pair was talking: the first after it connected, the flood before it finished.
            int connected = Find("(pong) pong: connected");
            int first = Find("(hostile) hostile-talk: store write to the ping"), last = Find("(hostile) hostile-talk: events sent to the control domain");
            Assert.True(connected < first && last < finished, $"attacks at lines {first}-{last}, the pair connected at {connected} and finished at {finished}");
            Assert.DoesNotContain(lines, l => l.Contains("crashed", StringComparison.Ordinal) || l.Contains("KERNEL FAULT", StringComparison.Ordinal));
        });

    [GeneratedRegex(@"^\(ping\) ping: (?<answered>\d+) of (?<sent>\d+) answered, (?<bad>\d+) bad")]
    private static partial Regex PairDone();

    [Fact]
    public Task A_granter_that_dies_while_its_page_is_mapped_stays_allocated_until_the_mapper_unmaps_and_the_control_domain_reads_why() =>
        Machine.BootAsync(Machine.Image("keel-pingpong-crash.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            await qemu.WaitForLineAsync(GuestLine("ping", "ping: crashing on purpose after \\d+ answers, the ring still mapped by the peer"), TimeSpan.FromSeconds(60), cancel);
            await qemu.WaitForLineAsync(new Regex(@"^\*\*\* domain 1 \(ping\) crashed"), LineTimeout, cancel);
            // The ring's page (mapped by pong) and the console and store pages (mapped by the control domain) outlive ping.
            var held = (await qemu.WaitForLineAsync(new Regex(@"^keel: (?<held>\d+) of its frames are still referenced and stay allocated until released$"), LineTimeout, cancel)).Match;
            Assert.InRange(Number(held.Groups["held"]), 1, 3);
            // VIRQ_DOM_EXC wakes the control domain, which reads the reason.
            await qemu.WaitForLineAsync(GuestLine("dom0", @"control: ping \(domain 1\) ended: crash: an exception the guest has no handler for: #UD .*"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("pong", @"pong: no ping for 5 s after \d+"), TimeSpan.FromSeconds(30), cancel);
            await qemu.WaitForLineAsync(GuestLine("dom0", "control: a domain did not power off; shutting down with reason crash"), TimeSpan.FromSeconds(30), cancel);
            var after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel)).Match;
            while (Number(after.Groups["alive"]) != 0) after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel)).Match;
            // Once the mapper unmapped and ended, every frame came back.
            Assert.Equal(Number(built.Groups["before"]), Number(after.Groups["free"]));
            Assert.Equal(37, await qemu.WaitForExitAsync(TimeSpan.FromSeconds(30), cancel));
        });
}

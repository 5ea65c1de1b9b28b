using System.Text.RegularExpressions;
using Xunit;
using static Keel.System.Tests.SerialContract;

namespace Keel.System.Tests;

/// <summary>The control domain's tools: build, pause, unpause, max_mem, destroy and getdomaininfo on a running domain, and what domctl refuses.</summary>
public sealed class DomctlTests
{
    [Fact]
    public Task The_control_domain_pauses_resumes_and_destroys_a_running_domain_and_gets_Xens_refusals() =>
        Machine.BootAsync(Machine.Image("keel-domctl.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            (string Step, int Result)[] steps =
            [
                ("build", 0), ("built domain is paused", 0), ("unpause", 0), ("running domain has used CPU time", 0), ("pause", 0),
                ("paused domain's CPU time stands still", 0), ("unpause again", 0), ("unpaused domain runs again", 0),
                ("max_mem to its current size", 0), ("destroy", 0), ("destroyed domain is dying and shut down", 0), ("destroy it again", 0),
                ("pause a destroyed domain", -22), ("getdomaininfo past the last domain", -3), ("pause the control domain itself", -22),
                ("a wrong interface version", -13), ("Xen's createdomain", -95),
            ];
            foreach (var (step, result) in steps)
            {
                await qemu.WaitForLineAsync(GuestLine("dom0", $"control: domctl {Regex.Escape(step)}: {result}"), LineTimeout, cancel);
            }
            // The destroyed domain's frames came back at once; the control domain goes on to its manifest.
            Assert.Contains("keel: domain 1 (subject) destroyed by the control domain", qemu.Lines);
            await qemu.WaitForLineAsync(GuestLine("dom0", "control: every domain powered off; shutting down"), LineTimeout, cancel);
            var after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel)).Match;
            while (Number(after.Groups["alive"]) != 0) after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel)).Match;
            Assert.Equal(Number(built.Groups["before"]), Number(after.Groups["free"]));
            Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(TimeSpan.FromSeconds(30), cancel));
        });
}

using Xunit;
using static Keel.System.Tests.SerialContract;

namespace Keel.System.Tests;

/// <summary>Diagnostics: a fault in the kernel is reported on the console and ends the run with a distinct status.</summary>
public sealed class FaultReportTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public Task A_kernel_page_fault_prints_the_fault_report_and_exits_QEMU_with_status_35() =>
        Machine.BootAsync(Machine.Image("keel-pagefault.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Banner(), BootTimeout, cancel);
            var boot = (await qemu.WaitForLineAsync(Boot(), LineTimeout, cancel)).Match;
            Assert.Contains("keel.fault=page", boot.Groups["cmdline"].Value);

            var fault = await qemu.WaitForLineAsync(PageFault(), LineTimeout, cancel);
            Assert.Equal(FatalFaultExitStatus, await qemu.WaitForExitAsync(ExitTimeout, cancel));

            // The report's lines follow its first line in whatever order the kernel lays out the registers.
            var report = qemu.Lines.Skip(fault.Number).ToList();
            Assert.Contains(report, line => FaultAddress().IsMatch(line));
            Assert.Contains(report, line => FaultRip().IsMatch(line));
            Assert.Contains(report, line => FaultBytes().IsMatch(line));
            // The fault is injected right after the clock line, so the kernel must never have reported itself ready.
            Assert.DoesNotContain(qemu.Lines, line => Ready().IsMatch(line));
        });

    [Fact]
    public Task An_unhandled_exception_prints_its_type_message_and_throw_site_and_exits_QEMU_with_status_35() =>
        Machine.BootAsync(Machine.Image("keel-throw.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Banner(), BootTimeout, cancel);
            await qemu.WaitForLineAsync(UnhandledInvalidOperation(), LineTimeout, cancel);
            await qemu.WaitForLineAsync(DeliberateExceptionMessage(), LineTimeout, cancel);
            await qemu.WaitForLineAsync(ThrowSite(), LineTimeout, cancel);
            await qemu.WaitForLineAsync(Stopping(), LineTimeout, cancel);
            Assert.Equal(FatalFaultExitStatus, await qemu.WaitForExitAsync(ExitTimeout, cancel));
        });

    [Fact]
    public Task A_kernel_stack_overflow_hits_the_guard_page_and_is_reported_as_a_double_fault_on_the_emergency_stack() =>
        Machine.BootAsync(Machine.Image("keel-stackoverflow.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Banner(), BootTimeout, cancel);
            var fault = await qemu.WaitForLineAsync(DoubleFault(), LineTimeout, cancel);
            Assert.Equal(FatalFaultExitStatus, await qemu.WaitForExitAsync(ExitTimeout, cancel));
            var report = qemu.Lines.Skip(fault.Number).ToList();
            Assert.Contains(report, line => StackGuardHit().IsMatch(line));
            Assert.Contains(report, line => FaultBytes().IsMatch(line));
        });
}

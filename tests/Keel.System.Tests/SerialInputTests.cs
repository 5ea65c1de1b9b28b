using Xunit;
using static Keel.System.Tests.SerialContract;

namespace Keel.System.Tests;

/// <summary>
/// Functional: what is typed on the serial console reaches the control domain (CONSOLEIO_read on
/// VIRQ_CONSOLE) or, after Ctrl-A three times, the kernel's debug keys, as Xen's console gives input to dom0.
/// </summary>
public sealed class SerialInputTests
{
    [Fact]
    public Task A_line_typed_on_the_serial_console_reaches_the_control_domain_and_Ctrl_A_three_times_gives_the_kernel_its_keys_and_back() =>
        Machine.BootAsync(Machine.Image("keel.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            await qemu.WaitForLineAsync(SerialInputOn(), LineTimeout, cancel);
            await qemu.WaitForLineAsync(InputToControlDomain(), LineTimeout, cancel);
            // Once the guest has ended the control domain has long bound VIRQ_CONSOLE and only waits.
            await qemu.WaitForLineAsync(GuestLine("dom0", @"control: hello \(domain 1\) ended: poweroff"), LineTimeout, cancel);

            await qemu.TypeAsync("echo hello keel\r", cancel);
            await qemu.WaitForLineAsync(GuestLine("dom0", "control: input: echo hello keel"), LineTimeout, cancel);

            await qemu.TypeAsync("\x01\x01\x01", cancel);
            await qemu.WaitForLineAsync(InputToKernel(), LineTimeout, cancel);
            await qemu.TypeAsync("q", cancel);
            var dom0 = (await qemu.WaitForLineAsync(DomainState(), LineTimeout, cancel)).Match;
            Assert.Equal(("0", "dom0"), (dom0.Groups["id"].Value, dom0.Groups["name"].Value));
            Assert.Matches("^(blocked|running|runnable)$", dom0.Groups["state"].Value);
            var hello = (await qemu.WaitForLineAsync(DomainState(), LineTimeout, cancel)).Match;
            Assert.Equal(("1", "hello", "shut down: poweroff"), (hello.Groups["id"].Value, hello.Groups["name"].Value, hello.Groups["state"].Value));
            var alive = (await qemu.WaitForLineAsync(DomainsAlive(), LineTimeout, cancel)).Match;
            Assert.Equal(("1", "2"), (alive.Groups["alive"].Value, alive.Groups["count"].Value));
            await qemu.TypeAsync("h", cancel);
            await qemu.WaitForLineAsync(KeyList(), LineTimeout, cancel);

            await qemu.TypeAsync("\x01\x01\x01", cancel);
            await qemu.WaitForLineAsync(InputToControlDomain(), LineTimeout, cancel);
            await qemu.TypeAsync("back again\r", cancel);
            await qemu.WaitForLineAsync(GuestLine("dom0", "control: input: back again"), LineTimeout, cancel);
            // The kernel's keys went to the kernel alone: the control domain saw only the two lines.
            Assert.Equal(2, qemu.Lines.Count(line => line.StartsWith("(dom0) control: input: ", StringComparison.Ordinal)));
        });
}

using System.Globalization;
using Keel.Testing.Qemu;
using Xunit;
using static Keel.System.Tests.SerialContract;

namespace Keel.System.Tests;

/// <summary>Functional: the image boots on each firmware and drive, and the kernel reports the machine it found.</summary>
public sealed class BootTests
{
    [Fact]
    public Task The_image_boots_under_SeaBIOS_and_prints_the_banner_memory_modules_timer_and_clock() =>
        Machine.BootAsync(Machine.Image("keel.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Banner(), BootTimeout, cancel);

            var boot = (await qemu.WaitForLineAsync(Boot(), LineTimeout, cancel)).Match;
            Assert.StartsWith("GRUB", boot.Groups["loader"].Value);

            // GRUB under SeaBIOS leaves 80x25 EGA text, which the kernel mirrors its console to.
            var display = (await qemu.WaitForLineAsync(Display(), LineTimeout, cancel)).Match;
            Assert.Equal("EGA text", display.Groups["kind"].Value);
            Assert.Equal("80x25", display.Groups["width"].Value + "x" + display.Groups["height"].Value);
            Assert.Equal("the screen and the serial port", display.Groups["where"].Value);

            var memory = (await qemu.WaitForLineAsync(Memory(), LineTimeout, cancel)).Match;
            Assert.InRange(Number(memory.Groups["mib"]), 1, 256);
            Assert.True(Number(memory.Groups["ranges"]) > 0, "no usable memory ranges");
            Assert.True(Hex(memory.Groups["start"]) < Hex(memory.Groups["end"]), "the kernel image ends before it starts");

            var symbols = (await qemu.WaitForLineAsync(SymbolsModule(), LineTimeout, cancel)).Match;
            Assert.True(Hex(symbols.Groups["start"]) < Hex(symbols.Groups["end"]), "the symbols module ends before it starts");
            Assert.True(Number(symbols.Groups["kib"]) > 0, "the symbols module is empty");

            var calibration = (await qemu.WaitForLineAsync(TimerCalibrated(), LineTimeout, cancel)).Match;
            Assert.True(Number(calibration.Groups["rate"]) > 0, "the local APIC timer does not count");

            // 100 Hz nominal; QEMU's software emulation on a busy host stretches and squeezes time, hence the wide band.
            var ticks = (await qemu.WaitForLineAsync(TimerTicks(), LineTimeout, cancel)).Match;
            long milliseconds = Number(ticks.Groups["ms"]);
            Assert.True(milliseconds > 0, "the TSC measured no time");
            Assert.InRange(Number(ticks.Groups["ticks"]) * 1000.0 / milliseconds, 50.0, 150.0);

            // QEMU's RTC starts from the host's clock in UTC, so the kernel's date is the host's give or take midnight.
            var clock = (await qemu.WaitForLineAsync(Clock(), LineTimeout, cancel)).Match;
            DateTime machine = DateTime.ParseExact(clock.Groups["when"].Value, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            Assert.InRange((machine.Date - DateTime.UtcNow.Date).TotalDays, -1, 1);

            await qemu.WaitForLineAsync(Ready(), LineTimeout, cancel);
        });

    [Fact]
    public Task The_same_image_boots_under_OVMF_on_a_q35_machine_to_ready() =>
        Machine.BootAsync(Machine.Image("keel.img") with { Firmware = Firmware.Uefi }, async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Banner(), BootTimeout, cancel);
            // UEFI GRUB hands over a pixel framebuffer, which the kernel draws its console on with the font module.
            var display = (await qemu.WaitForLineAsync(Display(), LineTimeout, cancel)).Match;
            Assert.Equal("framebuffer", display.Groups["kind"].Value);
            Assert.Equal("the screen and the serial port", display.Groups["where"].Value);
            await qemu.WaitForLineAsync(Ready(), LineTimeout, cancel);
        });

    [Fact]
    public Task The_image_also_boots_from_a_CD_drive_under_SeaBIOS_to_ready() =>
        Machine.BootAsync(Machine.Image("keel.img") with { Drive = BootDrive.CdRom }, async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Banner(), BootTimeout, cancel);
            await qemu.WaitForLineAsync(Ready(), LineTimeout, cancel);
        });

    [Fact]
    public Task The_image_also_boots_from_a_CD_drive_under_OVMF_to_ready() =>
        Machine.BootAsync(Machine.Image("keel.img") with { Firmware = Firmware.Uefi, Drive = BootDrive.CdRom }, async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Banner(), BootTimeout, cancel);
            await qemu.WaitForLineAsync(Ready(), LineTimeout, cancel);
        });

    [Fact]
    public Task With_keel_exit_the_kernel_shuts_down_once_ready_and_QEMU_exits_with_status_33() =>
        Machine.BootAsync(Machine.Image("keel-exit.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Banner(), BootTimeout, cancel);
            await qemu.WaitForLineAsync(Ready(), LineTimeout, cancel);
            await qemu.WaitForLineAsync(ShuttingDown(), LineTimeout, cancel);
            Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(TimeSpan.FromSeconds(30), cancel));
        });
}

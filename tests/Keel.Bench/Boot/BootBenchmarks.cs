using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using Keel.Testing.Qemu;

namespace Keel.Bench.Boot;

/// <summary>
/// How long the real image takes to boot under QEMU (software emulation, no KVM): from starting QEMU to the
/// kernel's banner (firmware and GRUB dominate), from the banner to "keel: ready" (the kernel's own start-up,
/// which includes a deliberate 1 s count of timer ticks), and to QEMU's exit. Boots artifacts/keel-exit.img,
/// which shuts down once ready, so every run ends by itself.
/// </summary>
public sealed class BootBenchmarks : IBenchmark
{
    private const int Runs = 3;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    private static readonly Regex Banner = new(@"^Keel \S+ \(x86-64\)$");
    private static readonly Regex Ready = new(@"^keel: ready$");

    private sealed record Timing(double Banner, double Ready, double Exit);

    public BenchmarkSection Run()
    {
        var section = new BenchmarkSection("Boot: the real image under QEMU");
        string image = RepositoryRoot.Artifact("keel-exit.img");
        Timing bios = Median(Enumerable.Range(0, Runs).Select(_ => Boot(new QemuOptions(image))).ToList());
        Timing uefi = Median(Enumerable.Range(0, Runs).Select(_ => Boot(new QemuOptions(image) { Firmware = Firmware.Uefi })).ToList());

        section.Results.Add(new BenchmarkResult("boot.seabios.start_to_banner", bios.Banner, "s"));
        section.Results.Add(new BenchmarkResult("boot.seabios.banner_to_ready", bios.Ready - bios.Banner, "s"));
        section.Results.Add(new BenchmarkResult("boot.seabios.start_to_exit", bios.Exit, "s"));
        section.Results.Add(new BenchmarkResult("boot.ovmf.start_to_banner", uefi.Banner, "s", "SeaBIOS start to banner, same image", bios.Banner));
        section.Results.Add(new BenchmarkResult("boot.ovmf.banner_to_ready", uefi.Ready - uefi.Banner, "s", "SeaBIOS banner to ready, same image", bios.Ready - bios.Banner));

        section.Body.Add($"Median of {Runs} boots of artifacts/keel-exit.img per firmware, times from starting QEMU (TCG, 256 MiB), read off the serial console. " +
            "Start to banner is almost all firmware and GRUB; banner to ready is the kernel, including its 1 s count of timer ticks against the TSC. " +
            "The OVMF figures use the SeaBIOS ones as their baseline.");
        section.Body.Add("| firmware | start to banner | banner to ready | start to exit |\n|---|---:|---:|---:|\n" +
            $"| SeaBIOS, raw disk | {bios.Banner:F2} s | {bios.Ready - bios.Banner:F2} s | {bios.Exit:F2} s |\n" +
            $"| OVMF, q35 | {uefi.Banner:F2} s | {uefi.Ready - uefi.Banner:F2} s | {uefi.Exit:F2} s |");
        return section;
    }

    private static Timing Boot(QemuOptions options) => BootAsync(options).GetAwaiter().GetResult();

    private static async Task<Timing> BootAsync(QemuOptions options)
    {
        var clock = Stopwatch.StartNew();
        using var qemu = QemuMachine.Start(options);
        await qemu.WaitForLineAsync(Banner, Timeout);
        double banner = clock.Elapsed.TotalSeconds;
        await qemu.WaitForLineAsync(Ready, Timeout);
        double ready = clock.Elapsed.TotalSeconds;
        int status = await qemu.WaitForExitAsync(Timeout);
        if (status != 33) throw new InvalidOperationException($"keel-exit.img ended with status {status}, not a clean shutdown:\n{qemu.Transcript}");
        return new Timing(banner, ready, clock.Elapsed.TotalSeconds);
    }

    private static Timing Median(List<Timing> runs)
    {
        static double Middle(IEnumerable<double> values) => values.OrderBy(v => v).ElementAt(Runs / 2);
        return new Timing(Middle(runs.Select(r => r.Banner)), Middle(runs.Select(r => r.Ready)), Middle(runs.Select(r => r.Exit)));
    }
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using Keel.Testing.Qemu;

namespace Keel.Bench.Kernel;

/// <summary>
/// The kernel's costs as a guest sees them, in TSC cycles under QEMU's TCG (so large in absolute terms; the
/// ratios to the baselines measured in the same boot are what carry over): the null hypercall, a trap
/// bounce, page-table updates one and 512 at a time, update_va_mapping, a domain switch, and building a
/// domain. Boots artifacts/keel-bench.img (tests/Keel.Bench/Manifests/bench.toml) and reads the test
/// domain's "bench:" lines and the kernel's "built" lines off the serial console.
/// </summary>
public sealed class KernelBenchmarks : IBenchmark
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    private static readonly Regex Bench = new(@"^\(bench\) bench: (?<name>\S+) (?<cycles>\d+) cycles per op \((?<ops>\d+) ops\)$");
    private static readonly Regex Built = new(@"^keel: domain \d+ \((?<name>build-\d+)\) built: (?<mib>\d+) MiB, (?<heap>\d+) bytes of kernel heap, in (?<us>\d+) us;");

    public BenchmarkSection Run()
    {
        var section = new BenchmarkSection("Kernel: hypercalls, traps, direct paging, domain switches and builds");
        var (bench, builds) = BootAsync().GetAwaiter().GetResult();
        Scheduling(section);
        Scale(section);
        double Cycles(string name) => bench[name];
        void Row(string name, string measured, string baseline, string baselineName) =>
            section.Results.Add(new BenchmarkResult(name, Cycles(measured), "cycles", baselineName, Cycles(baseline)));

        Row("hypercall.null_round_trip", "hypercall.null", "call.plain", "a plain call and return, same domain");
        Row("trap.bounce_round_trip", "trap.bounce", "hypercall.null", "the null hypercall");
        Row("mmu_update.per_entry.batch1", "mmu_update.batch1", "hypercall.null", "the null hypercall");
        Row("mmu_update.per_entry.batch512", "mmu_update.batch512", "mmu_update.batch1", "mmu_update, one entry a call");
        Row("update_va_mapping", "update_va_mapping", "mmu_update.batch1", "mmu_update, one entry a call");
        Row("domain_switch.yield", "yield.switching", "yield.alone", "a yield with no other domain to switch to");
        Row("grant.map_unmap", "grant.map_unmap", "update_va_mapping", "update_va_mapping of one entry");
        Row("grant.copy_4k", "grant.copy4k", "memcpy4k", "a 4 KiB memcpy inside the domain");
        Row("evtchn.ping_pong_round_trip", "evtchn.ping_pong", "yield.switching", "the yield ping-pong between the same two domains");
        Row("store.read_round_trip", "store.read", "hypercall.null", "the null hypercall");
        section.Results.Add(new BenchmarkResult("domain_build.4mib", builds["build-4"].Us, "us", "building a 16 MiB domain", builds["build-16"].Us));
        section.Results.Add(new BenchmarkResult("domain_build.4mib.kernel_heap", builds["build-4"].Heap, "bytes", "a 16 MiB domain", builds["build-16"].Heap));

        section.Body.Add("One boot of artifacts/keel-bench.img under QEMU TCG (no KVM), 256 MiB; every figure is the TSC cycles per operation " +
            "averaged over thousands of operations by the bench test domain, with its baseline from the same boot. The null hypercall is " +
            "xen_version(XENVER_version) through the hypercall page; the trap bounce is int3 delivered to the domain's own handler (which saves " +
            "every register and the SSE state) and iret back; mmu_update toggles one L1 entry's writable bit (each a full validation); the domain " +
            "switch is a yield while a second domain yields too, each yield then running the other; the grant rows map and unmap one granted page " +
            "at an address of the domain's (two hypercalls), and copy 4 KiB from a grant into one of its frames; the event-channel round trip " +
            "is a send to the partner and its send back (each waking the other from SCHEDOP_poll); the store read is READ of the domain's " +
            "domid, answered by the control domain. Build times are the kernel's, from the domctl " +
            "to the domain ready to start, most of it clearing and mapping the domain's frames.");
        section.Body.Add("| measure | cycles | baseline | baseline cycles | ratio |\n|---|---:|---|---:|---:|\n" + string.Join("\n",
            section.Results.Where(r => r.Unit == "cycles").Select(r => $"| {r.Name} | {r.Value:F0} | {r.Baseline} | {r.BaselineValue:F0} | {r.Ratio:F2} |")));
        section.Body.Add($"Building a 4 MiB domain took {builds["build-4"].Us:F0} us and {builds["build-4"].Heap:F0} bytes of kernel heap " +
            $"(a 16 MiB one {builds["build-16"].Us:F0} us and {builds["build-16"].Heap:F0} bytes: the kernel's copy of the p2m, 8 bytes a page, is most of it).");
        return section;
    }

    private static readonly Regex Spin = new(@"^\((?<name>spin-\d)\) spin: ran (?<ran>\d+) us of the (?<window>\d+) us window");
    private static readonly Regex Sleeper = new(@"^\((?<name>\w+)\) sleeper: (?<wakes>\d+) wakes, late by median (?<median>\d+) us, 90th percentile (?<p90>\d+) us, max (?<max>\d+) us$");
    private static readonly Regex Started = new(@"^\(dom0\) control: (?<count>\d+) domains started in (?<ms>\d+) ms; (?<running>\d+) running at system time (?<at>\d+) ms$");
    private static readonly Regex BeatBuilt = new(@"^keel: domain \d+ \(beat-\d+\) built: 4 MiB, (?<heap>\d+) bytes of kernel heap, in (?<us>\d+) us;");

    /// <summary>keel-bvt.img: CPU shares of three spinners weighted 1:2:4, and how late a warped and an unwarped sleeper run.</summary>
    private static void Scheduling(BenchmarkSection section)
    {
        var lines = BootLines("keel-bvt.img", 256);
        var ran = lines.Select(l => Spin.Match(l)).Where(m => m.Success).ToDictionary(m => m.Groups["name"].Value, m => double.Parse(m.Groups["ran"].Value, CultureInfo.InvariantCulture));
        double total = ran.Values.Sum();
        foreach (var (name, weight) in new[] { ("spin-1", 1.0), ("spin-2", 2.0), ("spin-4", 4.0) })
        {
            section.Results.Add(new BenchmarkResult($"bvt.share.{name}", ran[name] / total, "fraction", "its weight's share, weight / 7", weight / 7));
        }
        var sleepers = lines.Select(l => Sleeper.Match(l)).Where(m => m.Success).ToDictionary(m => m.Groups["name"].Value);
        double Us(string who, string what) => double.Parse(sleepers[who].Groups[what].Value, CultureInfo.InvariantCulture);
        section.Results.Add(new BenchmarkResult("bvt.warped_wake_latency.median", Us("warped", "median"), "us", "the same sleeper unwarped", Us("unwarped", "median")));
        section.Results.Add(new BenchmarkResult("bvt.warped_wake_latency.max", Us("warped", "max"), "us", "the same sleeper unwarped", Us("unwarped", "max")));
        section.Body.Add($"BVT (keel-bvt.img, a 3 s window): spinners weighted 1:2:4 got {ran["spin-1"] / total:P1}, {ran["spin-2"] / total:P1} and {ran["spin-4"] / total:P1} " +
            $"of their CPU; a sleeper waking every 10 ms ran late by median {Us("warped", "median"):F0} us and at most {Us("warped", "max"):F0} us warped (10 ms warp), " +
            $"{Us("unwarped", "median"):F0} us and {Us("unwarped", "max"):F0} us unwarped.");
    }

    /// <summary>keel-many.img: 128 domains of 4 MiB in 1 GiB; how long until all run, and the kernel heap each costs.</summary>
    private static void Scale(BenchmarkSection section)
    {
        var lines = BootLines("keel-many.img", 1024);
        var started = lines.Select(l => Started.Match(l)).First(m => m.Success);
        var heaps = lines.Select(l => BeatBuilt.Match(l)).Where(m => m.Success).Select(m => double.Parse(m.Groups["heap"].Value, CultureInfo.InvariantCulture)).ToList();
        double perDomainMs = double.Parse(started.Groups["ms"].Value, CultureInfo.InvariantCulture) / 128;
        section.Results.Add(new BenchmarkResult("domains128.start_all", double.Parse(started.Groups["ms"].Value, CultureInfo.InvariantCulture), "ms", "128 times building and starting one (the first's build time)", 128 * double.Parse(lines.Select(l => BeatBuilt.Match(l)).First(m => m.Success).Groups["us"].Value, CultureInfo.InvariantCulture) / 1000));
        section.Results.Add(new BenchmarkResult("domains128.kernel_heap_per_domain", heaps.Average(), "bytes", "the paper's figure, 20 kB", 20 * 1024));
        section.Body.Add($"128 domains (keel-many.img, 1 GiB): the control domain started them in {started.Groups["ms"].Value} ms ({perDomainMs:F1} ms each), all " +
            $"{started.Groups["running"].Value} running at {started.Groups["at"].Value} ms of system time; each cost {heaps.Average():F0} bytes of kernel heap.");
    }

    private static IReadOnlyList<string> BootLines(string image, int memoryMiB)
    {
        using var qemu = QemuMachine.Start(new QemuOptions(RepositoryRoot.Artifact(image)) { MemoryMiB = memoryMiB });
        int status = qemu.WaitForExitAsync(Timeout).GetAwaiter().GetResult();
        if (status != 33) throw new InvalidOperationException($"{image} ended with status {status}:\n{qemu.Transcript}");
        return qemu.Lines.ToList();
    }

    private static async Task<(Dictionary<string, double>, Dictionary<string, (double Us, double Heap)>)> BootAsync()
    {
        using var qemu = QemuMachine.Start(new QemuOptions(RepositoryRoot.Artifact("keel-bench.img")));
        int status = await qemu.WaitForExitAsync(Timeout);
        if (status != 33) throw new InvalidOperationException($"keel-bench.img ended with status {status}:\n{qemu.Transcript}");
        var bench = qemu.Lines.Select(l => Bench.Match(l)).Where(m => m.Success)
            .ToDictionary(m => m.Groups["name"].Value, m => double.Parse(m.Groups["cycles"].Value, CultureInfo.InvariantCulture));
        var builds = qemu.Lines.Select(l => Built.Match(l)).Where(m => m.Success)
            .ToDictionary(m => m.Groups["name"].Value, m => (double.Parse(m.Groups["us"].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups["heap"].Value, CultureInfo.InvariantCulture)));
        return (bench, builds);
    }
}

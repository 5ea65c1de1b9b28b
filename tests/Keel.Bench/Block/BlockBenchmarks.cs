using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Keel.Testing;
using Keel.Testing.Qemu;

namespace Keel.Bench.Block;

/// <summary>
/// The block path: boots of artifacts/keel-blkbench.img (tests/Keel.Bench/Manifests/blkbench.toml), each with a
/// fresh 128 MiB scratch file as QEMU's virtio-blk. blkback first runs the workloads on the device alone (its own
/// virtio-blk driver, no ring: the baseline), then a guest runs them through blkback with a grant per page per
/// request, with persistent grants and the data copied, and with persistent grants and the data in blkfront's
/// buffers. Every figure is the median of the boots; each mode's ratio is to the direct figure.
/// </summary>
public sealed class BlockBenchmarks : IBenchmark
{
    private const int Boots = 5;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(600);
    private static readonly Regex Result = new(@"^\((?:blkback|bench)\) blkbench: (?<mode>direct|plain|persistent|buffers) (?<workload>\S+) (?<requests>\d+) requests (?<bytes>\d+) bytes in (?<ns>\d+) ns$");
    private static readonly string[] Workloads = BlockWorkload.All().Select(w => w.Name).ToArray();
    private static readonly string[] Modes = ["plain", "persistent", "buffers"];

    private static readonly Dictionary<string, string> Described = new()
    {
        ["plain"] = "grant per page per request",
        ["persistent"] = "persistent grants, data copied",
        ["buffers"] = "persistent grants, blkfront's buffers in place",
    };

    public BenchmarkSection Run()
    {
        var section = new BenchmarkSection("Block path: a guest through blkback against the virtio-blk driver used directly");
        var boots = Enumerable.Range(0, Boots).Select(_ => Boot()).ToList();
        var results = boots[0].Keys.ToDictionary(key => key, key => (MBps: Median(boots.Select(b => b[key].MBps)), Iops: Median(boots.Select(b => b[key].Iops))));
        var table = new List<string>();
        var worst = Modes.ToDictionary(mode => mode, _ => double.MaxValue);
        foreach (string workload in Workloads)
        {
            var direct = results[("direct", workload)];
            string key = workload.Replace('-', '_');
            foreach (string mode in Modes)
            {
                var through = results[(mode, workload)];
                section.Results.Add(new BenchmarkResult($"blk.{key}.{mode}.mb_per_s", through.MBps, "MB/s", "the same workload, blkback's driver on the device directly", direct.MBps));
                section.Results.Add(new BenchmarkResult($"blk.{key}.{mode}.iops", through.Iops, "IOPS", "the same workload, blkback's driver on the device directly", direct.Iops));
                double ratio = through.MBps / direct.MBps;
                worst[mode] = Math.Min(worst[mode], ratio);
                string spread = string.Join(", ", boots.Select(b => $"{b[(mode, workload)].MBps / b[("direct", workload)].MBps:F2}"));
                table.Add($"| {workload} | {mode} | {through.MBps:F1} | {through.Iops:F0} | {direct.MBps:F1} | {direct.Iops:F0} | {ratio:F2} | {spread} |");
            }
            section.Results.Add(new BenchmarkResult($"blk.{key}.persistent_vs_plain", results[("persistent", workload)].MBps, "MB/s", "the same workload with a grant per page per request", results[("plain", workload)].MBps));
            section.Results.Add(new BenchmarkResult($"blk.{key}.buffers_vs_persistent", results[("buffers", workload)].MBps, "MB/s", "the same workload with persistent grants and the data copied", results[("persistent", workload)].MBps));
        }
        foreach (string mode in Modes)
        {
            section.Goals.Add(new BenchmarkGoal($"a guest through blkback >= 0.8 of direct, every workload, {Described[mode]}", worst[mode] >= 0.8, $"worst {worst[mode]:F2}"));
        }
        section.Body.Add($"{Boots} boots under QEMU TCG (no KVM), 256 MiB, each with a fresh 128 MiB raw file as virtio-blk (cache=writeback, QEMU's " +
            "default); every figure is the median of the boots, and the last column is each boot's own ratio. blkback (bench-direct) first runs " +
            "each workload on vda's first 32 MiB with its own driver and nothing else: 64 KiB sequential writes then reads (512 requests), " +
            "4 KiB writes then reads at 4096 pseudo-random places (xorshift64, the same in every run), 16 requests in flight, and the " +
            "4 KiB ones again with 32 in flight (qd32: every slot of a one-page ring). Then a guest runs " +
            "the same workloads through blkback on three other 32 MiB ranges: \"plain\" grants each page to blkback per request (blkback maps " +
            "it for the device only), \"persistent\" copies into pages granted once (feature-persistent, as Linux's blkfront does), " +
            "\"buffers\" also has persistent grants but the guest reads and writes blkfront's own granted buffers in place, so nothing is " +
            "copied and nothing granted or mapped per request. 64 KiB requests travel as BLKIF_OP_INDIRECT (16 segments), whose descriptor " +
            "page blkback copies out with one GNTTABOP_copy.");
        section.Body.Add("| workload | mode | MB/s | IOPS | direct MB/s | direct IOPS | ratio | ratio per boot |\n|---|---|---:|---:|---:|---:|---:|---|\n" + string.Join("\n", table));
        return section;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static Dictionary<(string Mode, string Workload), (double MBps, double Iops)> Boot()
    {
        string disk = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(disk, new byte[128 << 20]);
            var options = new QemuOptions(RepositoryRoot.Artifact("keel-blkbench.img"))
            {
                ExtraArguments = ["-drive", $"if=none,id=disk0,format=raw,file={disk}", "-device", "virtio-blk-pci,drive=disk0,addr=0x4"],
            };
            using var qemu = QemuMachine.Start(options);
            int status = qemu.WaitForExitAsync(Timeout).GetAwaiter().GetResult();
            if (status != 33) throw new InvalidOperationException($"keel-blkbench.img ended with status {status}:\n{qemu.Transcript}");
            var found = qemu.Lines.Select(l => Result.Match(l)).Where(m => m.Success).ToDictionary(
                m => (m.Groups["mode"].Value, m.Groups["workload"].Value),
                m =>
                {
                    double seconds = double.Parse(m.Groups["ns"].Value, CultureInfo.InvariantCulture) / 1e9;
                    return (double.Parse(m.Groups["bytes"].Value, CultureInfo.InvariantCulture) / 1e6 / seconds, double.Parse(m.Groups["requests"].Value, CultureInfo.InvariantCulture) / seconds);
                });
            int expected = Workloads.Length * (Modes.Length + 1);
            if (found.Count != expected) throw new InvalidOperationException($"keel-blkbench.img printed {found.Count} of {expected} results:\n{qemu.Transcript}");
            return found;
        }
        finally
        {
            File.Delete(disk);
        }
    }
}

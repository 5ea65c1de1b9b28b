using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Keel.Testing.Qemu;

namespace Keel.Bench.Block;

/// <summary>
/// The block path: one boot of artifacts/keel-blkbench.img (tests/Keel.Bench/Manifests/blkbench.toml) with a
/// 96 MiB scratch file as QEMU's virtio-blk. blkback first runs the workloads on the device alone (its own
/// virtio-blk driver, no ring: the baseline), then a guest runs them through blkback with a grant per page
/// per request and with persistent grants. MB/s and IOPS of each, and each one's ratio to the direct figure.
/// </summary>
public sealed class BlockBenchmarks : IBenchmark
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(600);
    private static readonly Regex Result = new(@"^\((?:blkback|bench)\) blkbench: (?<mode>direct|plain|persistent) (?<workload>\S+) (?<requests>\d+) requests (?<bytes>\d+) bytes in (?<ns>\d+) ns$");
    private static readonly string[] Workloads = ["seq-write-64k", "seq-read-64k", "rand-write-4k", "rand-read-4k"];

    public BenchmarkSection Run()
    {
        var section = new BenchmarkSection("Block path: a guest through blkback against the virtio-blk driver used directly");
        var results = Boot();
        var table = new List<string>();
        double worstPlain = double.MaxValue, worstPersistent = double.MaxValue;
        foreach (string workload in Workloads)
        {
            var direct = results[("direct", workload)];
            string key = workload.Replace('-', '_');
            foreach (string mode in new[] { "plain", "persistent" })
            {
                var through = results[(mode, workload)];
                section.Results.Add(new BenchmarkResult($"blk.{key}.{mode}.mb_per_s", through.MBps, "MB/s", "the same workload, blkback's driver on the device directly", direct.MBps));
                section.Results.Add(new BenchmarkResult($"blk.{key}.{mode}.iops", through.Iops, "IOPS", "the same workload, blkback's driver on the device directly", direct.Iops));
                double ratio = through.MBps / direct.MBps;
                if (mode == "plain") worstPlain = Math.Min(worstPlain, ratio);
                else worstPersistent = Math.Min(worstPersistent, ratio);
                table.Add($"| {workload} | {mode} | {through.MBps:F1} | {through.Iops:F0} | {direct.MBps:F1} | {direct.Iops:F0} | {ratio:F2} |");
            }
            section.Results.Add(new BenchmarkResult($"blk.{key}.persistent_vs_plain", results[("persistent", workload)].MBps, "MB/s", "the same workload with a grant per page per request", results[("plain", workload)].MBps));
        }
        section.Goals.Add(new BenchmarkGoal("a guest through blkback >= 0.8 of direct, every workload, grant per request", worstPlain >= 0.8, $"worst {worstPlain:F2}"));
        section.Goals.Add(new BenchmarkGoal("a guest through blkback >= 0.8 of direct, every workload, persistent grants", worstPersistent >= 0.8, $"worst {worstPersistent:F2}"));
        section.Body.Add("One boot under QEMU TCG (no KVM), 256 MiB, a 96 MiB raw file as virtio-blk (cache=writeback, QEMU's default). blkback " +
            "(bench-direct) first runs each workload on vda's first 32 MiB with its own driver and nothing else: 64 KiB sequential writes then " +
            "reads (512 requests), 4 KiB writes then reads at 4096 pseudo-random places (xorshift64, the same in every run), 16 requests in " +
            "flight. Then a guest runs the same workloads through blkback on two other 32 MiB ranges: \"plain\" grants each page to blkback " +
            "per request (blkback maps it for the device only), \"persistent\" copies into pages granted once (feature-persistent). 64 KiB " +
            "requests travel as BLKIF_OP_INDIRECT (16 segments).");
        section.Body.Add("| workload | mode | MB/s | IOPS | direct MB/s | direct IOPS | ratio |\n|---|---|---:|---:|---:|---:|---:|\n" + string.Join("\n", table));
        return section;
    }

    private static Dictionary<(string Mode, string Workload), (double MBps, double Iops)> Boot()
    {
        string disk = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(disk, new byte[96 << 20]);
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
            if (found.Count != 12) throw new InvalidOperationException($"keel-blkbench.img printed {found.Count} of 12 results:\n{qemu.Transcript}");
            return found;
        }
        finally
        {
            File.Delete(disk);
        }
    }
}

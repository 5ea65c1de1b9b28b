using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Keel.Bench.Boot;
using Keel.Bench.Block;
using Keel.Bench.Kernel;
using Keel.Bench.Rings;

namespace Keel.Bench;

public static class Program
{
    /// <summary>Every component's benchmark, in report order.</summary>
    private static IBenchmark[] Benchmarks() => new IBenchmark[]
    {
        new RingBenchmarks(),
        new BootBenchmarks(),
        new KernelBenchmarks(),
        new BlockBenchmarks(),
    };

    public static int Main(string[] args)
    {
        if (args.Length != 1)
        {
            Console.Error.WriteLine("usage: Keel.Bench <output-folder>");
            return 2;
        }

        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        string output = Path.GetFullPath(args[0]);
        Directory.CreateDirectory(output);

        var total = Stopwatch.StartNew();
        var sections = new List<BenchmarkSection>();
        foreach (IBenchmark benchmark in Benchmarks())
        {
            var watch = Stopwatch.StartNew();
            BenchmarkSection section = benchmark.Run();
            Console.WriteLine($"{section.Title}: {watch.Elapsed.TotalSeconds:F1} s");
            sections.Add(section);
        }

        total.Stop();
        List<BenchmarkResult> results = sections.SelectMany(s => s.Results).ToList();
        File.WriteAllText(Path.Combine(output, "results.json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        File.WriteAllText(Path.Combine(output, "report.md"), Report(sections, total.Elapsed));
        foreach (BenchmarkGoal goal in sections.SelectMany(s => s.Goals))
        {
            Console.WriteLine($"goal {(goal.Met ? "met" : "NOT met")}: {goal.Description} (measured {goal.Measured})");
        }

        Console.WriteLine($"wrote {Path.Combine(output, "results.json")} and report.md in {total.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    private static string Report(List<BenchmarkSection> sections, TimeSpan elapsed)
    {
        var md = new StringBuilder();
        md.AppendLine("# Keel benchmarks");
        md.AppendLine();
        md.AppendLine($"- Machine: {CpuModel()}, {Environment.ProcessorCount} logical CPUs, {RuntimeInformation.OSDescription}");
        md.AppendLine($"- Runtime: {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.ProcessArchitecture}");
        md.AppendLine($"- Run: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {elapsed.TotalSeconds:F1} s in total");
        md.AppendLine("- In results.json, `ratio` is always `value / baseline_value`.");
        md.AppendLine();
        md.AppendLine("## Goals");
        md.AppendLine();
        md.AppendLine("| goal | measured | met |");
        md.AppendLine("|---|---|---|");
        foreach (BenchmarkGoal goal in sections.SelectMany(s => s.Goals))
        {
            md.AppendLine($"| {goal.Description} | {goal.Measured} | {(goal.Met ? "yes" : "**no**")} |");
        }

        foreach (BenchmarkSection section in sections)
        {
            md.AppendLine();
            md.AppendLine("## " + section.Title);
            foreach (string block in section.Body)
            {
                md.AppendLine();
                md.AppendLine(block);
            }
        }

        return md.ToString();
    }

    private static string CpuModel()
    {
        try
        {
            string line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line == null ? "unknown CPU" : line.Substring(line.IndexOf(':') + 1).Trim();
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }
}

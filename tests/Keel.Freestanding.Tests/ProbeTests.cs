using System.Diagnostics;

namespace Keel.Freestanding.Tests;

/// <summary>
/// Runs artifacts/linux/freestanding-probe: code compiled by ILC against Keel's core library exactly as the
/// kernel is, linked by the image tool into a static Linux executable (the Image target builds it).
/// </summary>
public class ProbeTests
{
    private static readonly Lazy<(int Status, string[] Lines)> Run = new(() =>
    {
        string probe = Path.Combine(RepositoryRoot(), "artifacts", "linux", "freestanding-probe");
        if (!File.Exists(probe)) throw new FileNotFoundException($"{probe} is missing: build it with ./build.sh --target=Image", probe);
        var process = Process.Start(new ProcessStartInfo(probe) { RedirectStandardOutput = true })!;
        string output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(60_000))
        {
            process.Kill();
            throw new TimeoutException("the probe did not finish within a minute:\n" + output);
        }
        return (process.ExitCode, output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    });

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "build.cake"))) return dir.FullName;
        }
        throw new DirectoryNotFoundException("no build.cake above " + AppContext.BaseDirectory);
    }

    public static TheoryData<string> CoreLibraryChecks =>
    [
        "static fields of reference type are initialised",
        "a static constructor runs once, on first use",
        "string concatenation and integer formatting",
        "string equality compares characters",
        "class casts follow the base-class chain",
        "interface casts use the interface map",
        "interface calls dispatch to each implementation",
        "array covariance is checked on casts",
        "generic structs over value types",
        "spans and little-endian primitives",
        "interlocked operations",
        "64-bit interlocked operations",
        "delegates and closures",
        "boxing and unboxing",
        "copies of every length up to 100 land whole, forwards and backwards over an overlap",
        "stack buffers of every length up to 100 start zeroed",
    ];

    public static TheoryData<string> RingChecks =>
    [
        "a one-page blkif ring holds 32 requests",
        "10000 requests round-trip in order through a one-page blkif ring",
        "the back-end sees no overflow from an honest front-end",
        "notifications are sent at most once per push",
        "a producer index beyond the ring is reported as overflow and nothing is consumed",
        "the store's byte ring carries a message intact",
        "blkif requests are validated before use",
    ];

    public static TheoryData<string> ManifestChecks =>
    [
        "the manifest reader reads a module the image tool wrote",
        "the manifest reader refuses damaged modules and names their line",
    ];

    [Theory]
    [MemberData(nameof(CoreLibraryChecks))]
    [MemberData(nameof(RingChecks))]
    [MemberData(nameof(ManifestChecks))]
    public void Each_check_of_the_core_library_ringlib_and_the_runtime_passes_in_freestanding_compiled_code(string check)
    {
        var (_, lines) = Run.Value;
        Assert.True(lines.Contains("ok " + check), $"'{check}' did not pass; the probe printed:\n{string.Join('\n', lines)}");
    }

    [Fact]
    public void The_probe_runs_to_completion_with_no_failed_check()
    {
        var (status, lines) = Run.Value;
        Assert.True(status == 0, $"exit status {status}; the probe printed:\n{string.Join('\n', lines)}");
        Assert.Equal("all checks passed", lines[^1]);
        Assert.DoesNotContain(lines, line => line.StartsWith("FAIL ", StringComparison.Ordinal));
    }
}

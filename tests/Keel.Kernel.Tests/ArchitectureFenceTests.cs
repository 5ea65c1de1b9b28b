using System.Text.RegularExpressions;

namespace Keel.Kernel.Tests;

/// <summary>
/// Machine instructions live in kernel/Arch/X64 alone: Native binds the image tool's stubs there, and every
/// other part of the kernel reaches them through the typed wrappers beside it (STYLE.md: the Arch/X64 fence).
/// </summary>
public sealed partial class ArchitectureFenceTests
{
    // Call sites still being moved behind the wrappers (Processor, TimestampCounter) by work in progress on
    // these files; each entry goes once its file stops naming Native. Paths relative to kernel/, with '/'.
    private static readonly string[] NotYetFenced =
    [
        "Kernel.cs",
        "Time/SystemClock.cs",
        "Time/Timer.cs",
    ];

    [GeneratedRegex(@"\bNative\b")]
    private static partial Regex NamesNative();

    [Fact]
    public void No_kernel_source_outside_Arch_X64_names_the_Native_instruction_stubs()
    {
        string kernel = Path.Combine(RepositoryRoot(), "kernel");
        var offenders = new List<string>();
        foreach (string file in Directory.EnumerateFiles(kernel, "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(kernel, file).Replace('\\', '/');
            if (relative.StartsWith("Arch/X64/", StringComparison.Ordinal) || NotYetFenced.Contains(relative)) continue;
            string[] lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                if (NamesNative().IsMatch(lines[i])) offenders.Add($"kernel/{relative}:{i + 1}: {lines[i].Trim()}");
            }
        }
        Assert.True(offenders.Count == 0, "machine instructions outside kernel/Arch/X64 (use or add a wrapper there):\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void Every_file_the_fence_still_lets_through_exists_and_still_needs_it()
    {
        string kernel = Path.Combine(RepositoryRoot(), "kernel");
        foreach (string relative in NotYetFenced)
        {
            string path = Path.Combine(kernel, relative);
            Assert.True(File.Exists(path), $"kernel/{relative} is allowed through the fence but does not exist");
            Assert.True(File.ReadAllLines(path).Any(l => NamesNative().IsMatch(l)), $"kernel/{relative} no longer names Native: take it off the list");
        }
    }

    /// <summary>The nearest folder above the test binaries that holds build.cake.</summary>
    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "build.cake"))) return folder.FullName;
        }
        throw new DirectoryNotFoundException($"no folder containing build.cake above {AppContext.BaseDirectory}");
    }
}

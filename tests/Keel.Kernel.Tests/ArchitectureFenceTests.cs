using System.Text.RegularExpressions;

namespace Keel.Kernel.Tests;

/// <summary>
/// Machine instructions live in kernel/Arch/X64 alone: Native binds the image tool's stubs there, and every
/// other part of the kernel reaches them through the typed wrappers beside it (STYLE.md: the Arch/X64 fence).
/// </summary>
public sealed partial class ArchitectureFenceTests
{
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
            if (relative.StartsWith("Arch/X64/", StringComparison.Ordinal)) continue;
            string[] lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                if (NamesNative().IsMatch(lines[i])) offenders.Add($"kernel/{relative}:{i + 1}: {lines[i].Trim()}");
            }
        }
        Assert.True(offenders.Count == 0, "machine instructions outside kernel/Arch/X64 (use or add a wrapper there):\n" + string.Join("\n", offenders));
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

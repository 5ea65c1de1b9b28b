using Keel.Runtime;

namespace Keel.Image;

/// <summary>
/// The system manifest: every domain the control domain is to build, checked at build time so that a typo,
/// a missing kernel or an impossible memory size stops the build instead of the machine. It is TOML, with
/// Xen's xl.cfg key names for each guest:
/// <code>
/// [system]                  # optional
/// exit_when_done = true     # shut the machine down once every guest has ended (default false)
/// machine_memory = 256      # MiB the machine has; the guests' memory may not add up to more
///
/// [[domain]]
/// name = "hello"            # required, unique, [a-z0-9-]{1,32}, not "dom0" or "control"
/// kernel = "test-domain"    # required: a domain image the build makes (artifacts/domains/NAME.elf), or a
///                           # path (it contains '/' or ends in .elf) to any PV64 ELF, relative to this file
/// memory = 16               # MiB, required, 4..65536
/// cmdline = "hello"         # optional, printable ASCII, at most 1023 bytes
/// weight = 256              # optional BVT weight, 1..65535 (default 256, Xen's credit scheduler default)
/// warp = 0                  # optional BVT warp in ms (0: none); with a warp, warp_limit and unwarp (ms)
/// on_crash = "destroy"      # optional: destroy or restart (default destroy)
/// on_poweroff = "destroy"   # optional: destroy only, for now
/// count = 1                 # optional: this many copies, named name-0 .. name-(count-1), 1..1024
/// </code>
/// <see cref="Load"/> refuses anything else (unknown keys included) with every error's file, line and column.
/// The control domain receives it as text (<see cref="ManifestText"/>) with the kernels as further modules
/// (<see cref="BootModules"/>).
/// </summary>
public sealed class Manifest
{
    public Manifest(bool exitWhenDone, int? machineMemoryMiB, IReadOnlyList<DomainSpec> domains)
    {
        ExitWhenDone = exitWhenDone;
        MachineMemoryMiB = machineMemoryMiB;
        Domains = domains;
        Kernels = domains.Select(d => d.Kernel).DistinctBy(k => k.Path).ToList();
    }

    public bool ExitWhenDone { get; }

    /// <summary>What [system] machine_memory stated, if anything.</summary>
    public int? MachineMemoryMiB { get; }

    /// <summary>After count expansion, in manifest order: the order the control domain builds them in.</summary>
    public IReadOnlyList<DomainSpec> Domains { get; }

    /// <summary>Each kernel file once, in the order domains first name it: the order of their boot modules.</summary>
    public IReadOnlyList<KernelImage> Kernels { get; }

    /// <summary>The boot module holding the domain's kernel, counted from the manifest's own module (0).</summary>
    public int ModuleOf(DomainSpec domain)
    {
        for (int i = 0; i < Kernels.Count; i++)
        {
            if (Kernels[i].Path == domain.Kernel.Path) return i + 1;
        }
        throw new ArgumentException($"domain {domain.Name}'s kernel is not one of this manifest's", nameof(domain));
    }

    /// <summary>
    /// The modules an image gets for this manifest, in order and consecutive: the manifest text itself with
    /// the string "manifest", then each kernel once as "kernel NAME". <see cref="ModuleOf"/> counts in this list.
    /// </summary>
    public IReadOnlyList<(string File, string String)> BootModules(string manifestTextFile) =>
        [(manifestTextFile, "manifest"), .. Kernels.Select(k => (k.Path, "kernel " + k.Name))];

    /// <summary>Reads and checks a manifest file; kernels named without a path are looked for in domainsDirectory.</summary>
    public static Manifest Load(string path, string domainsDirectory)
    {
        if (!File.Exists(path)) throw new BuildException($"manifest {path} is missing");
        string fullPath = Path.GetFullPath(path);
        return Parse(File.ReadAllText(fullPath), path, Path.GetDirectoryName(fullPath)!, domainsDirectory);
    }

    /// <summary>
    /// Checks manifest text. sourceName is what errors call the file; kernel paths are relative to
    /// baseDirectory. Throws a <see cref="ManifestException"/> listing every error found.
    /// </summary>
    public static Manifest Parse(string text, string sourceName, string baseDirectory, string domainsDirectory) =>
        new ManifestLoader(sourceName, baseDirectory, domainsDirectory).Load(text);
}

/// <summary>A kernel file and the name its boot module string carries ("kernel NAME"): the manifest's
/// kernel value as first written, which is a plain word or path safe on a grub.cfg line.</summary>
public sealed record KernelImage(string Name, string Path);

/// <summary>One domain, every default filled in. Times are in ms, memory in MiB.</summary>
public sealed record DomainSpec(
    string Name,
    KernelImage Kernel,
    int MemoryMiB,
    string CommandLine,
    int Weight = ManifestLimits.DefaultWeight,
    int WarpMs = 0,
    int WarpLimitMs = 0,
    int UnwarpMs = 0,
    DomainAction OnCrash = DomainAction.Destroy,
    DomainAction OnPoweroff = DomainAction.Destroy);

/// <summary>One error in a manifest: where (1-based line and column) and what, as a sentence.</summary>
public sealed record ManifestDiagnostic(string Source, int Line, int Column, string Message)
{
    public override string ToString() => $"{Source}({Line},{Column}): {Message}";
}

/// <summary>A manifest was refused; the message lists every error, one a line.</summary>
public sealed class ManifestException(IReadOnlyList<ManifestDiagnostic> errors)
    : BuildException($"the manifest has {errors.Count} error{(errors.Count == 1 ? "" : "s")}:\n" + string.Join("\n", errors))
{
    public IReadOnlyList<ManifestDiagnostic> Errors { get; } = errors;
}

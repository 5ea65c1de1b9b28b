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
/// kernel_upgrade = "blkback-2"  # optional: the kernel an upgrade command switches the domain to, named
///                           # as kernel is; it is checked as kernel is and becomes a boot module too
/// pci = ["00:04.0"]         # optional, xl.cfg's pci: PCI functions given to this (driver) domain, at most
///                           # 8, each BDF [DDDD:]BB:DD.F as xl-pci-configuration(5) writes it (hex, segment
///                           # 0000); a function is given to one domain only, and options (",key=value",
///                           # "@vslot") are refused
/// disk = ["vda,xvda,w",     # optional, xl.cfg's disk: virtual disks, at most 16, each an
///   "backend=blkback, vdev=xvdb, access=ro, target=vda:2048+65536"]
///                           # xl-disk-configuration(5) spec, positional (target, format, vdev, access; the
///                           # format may be left out) or key=value (backend, vdev, access, target, format,
///                           # devtype). vdev is xvda..xvdz, unique in the domain; access r/ro or w/rw
///                           # (default rw); format only raw, devtype only disk; target is the back-end's
///                           # physical disk vda, vdb, ... (in the order it finds its virtio-blk devices),
///                           # optionally :START+COUNT in 512-byte sectors (COUNT > 0; without it the whole
///                           # disk); backend (default "blkback") is another domain of this manifest, with a
///                           # pci device for each of its disks up to the target (vdb needs two). Disks on
///                           # one target may share sectors only if none of them is writable.
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
        Kernels = domains.SelectMany(d => new[] { d.Kernel, d.KernelUpgrade }).OfType<KernelImage>().DistinctBy(k => k.Path).ToList();
    }

    public bool ExitWhenDone { get; }

    /// <summary>What [system] machine_memory stated, if anything.</summary>
    public int? MachineMemoryMiB { get; }

    /// <summary>After count expansion, in manifest order: the order the control domain builds them in.</summary>
    public IReadOnlyList<DomainSpec> Domains { get; }

    /// <summary>Each kernel file once, upgrade kernels included, in the order domains first name it (a domain's
    /// kernel, then its upgrade kernel): the order of their boot modules.</summary>
    public IReadOnlyList<KernelImage> Kernels { get; }

    /// <summary>The boot module holding the domain's kernel, counted from the manifest's own module (0).</summary>
    public int ModuleOf(DomainSpec domain) => ModuleOf(domain.Kernel, domain);

    /// <summary>The boot module holding the domain's upgrade kernel, counted as <see cref="ModuleOf"/>; 0 for none.</summary>
    public int UpgradeModuleOf(DomainSpec domain) => domain.KernelUpgrade is null ? 0 : ModuleOf(domain.KernelUpgrade, domain);

    private int ModuleOf(KernelImage kernel, DomainSpec domain)
    {
        for (int i = 0; i < Kernels.Count; i++)
        {
            if (Kernels[i].Path == kernel.Path) return i + 1;
        }
        throw new ArgumentException($"domain {domain.Name}'s kernel {kernel.Name} is not one of this manifest's", nameof(domain));
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

/// <summary>
/// One domain, every default filled in. Times are in ms, memory in MiB. Pci and Disks are never null (left
/// out, they are empty) and compare item by item, so two specs are equal when everything in them is.
/// </summary>
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
    DomainAction OnPoweroff = DomainAction.Destroy,
    KernelImage? KernelUpgrade = null,
    IReadOnlyList<PciAddress>? Pci = null,
    IReadOnlyList<DiskSpec>? Disks = null)
{
    private readonly ValueList<PciAddress> _pci = new(Pci ?? []);
    private readonly ValueList<DiskSpec> _disks = new(Disks ?? []);

    public IReadOnlyList<PciAddress> Pci { get => _pci; init => _pci = new(value); }

    public IReadOnlyList<DiskSpec> Disks { get => _disks; init => _disks = new(value); }
}

/// <summary>A read-only copy of a list that is equal to another of the same items, so a record holding one keeps value equality.</summary>
public sealed class ValueList<T>(IEnumerable<T> items) : System.Collections.ObjectModel.ReadOnlyCollection<T>(items.ToList()), IEquatable<ValueList<T>>
{
    public bool Equals(ValueList<T>? other) => other is not null && this.SequenceEqual(other);

    public override bool Equals(object? obj) => Equals(obj as ValueList<T>);

    public override int GetHashCode() => this.Aggregate(Count, HashCode.Combine);
}

/// <summary>A PCI function of segment 0 (xl-pci-configuration(5)'s BDF); Sbdf is how Xen's domctl names it.</summary>
public readonly record struct PciAddress(int Bus, int Device, int Function)
{
    public int Sbdf => Bus << 8 | Device << 3 | Function;

    public override string ToString() => $"0000:{Bus:x2}:{Device:x2}.{Function}";
}

/// <summary>
/// A virtual disk (xl-disk-configuration(5)): the guest's xvd disk Vdev (0 for xvda) served by the domain
/// Backend from its physical disk Target (0 for vda), sectors StartSector to StartSector + Sectors, where
/// Sectors 0 means the whole target.
/// </summary>
public readonly record struct DiskSpec(string Backend, int Vdev, bool Writable, int Target, long StartSector = 0, long Sectors = 0)
{
    public bool IsWholeTarget => Sectors == 0;

    /// <summary>One past the last sector, the end of any disk when the range is the whole target.</summary>
    public long EndSector => IsWholeTarget ? long.MaxValue : StartSector + Sectors;

    public string VdevName => "xvd" + (char)('a' + Vdev);

    public string TargetName => TargetNameOf(Target);

    /// <summary>The back-end's name for its disk number target: vda for 0.</summary>
    public static string TargetNameOf(int target) => "vd" + (char)('a' + target);
}

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

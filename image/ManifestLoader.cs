using System.Text.RegularExpressions;
using Keel.Kernel.Boot;
using Keel.Kernel.Domains;
using Keel.Runtime;
using Tomlyn;
using Tomlyn.Model;
using Tomlyn.Parsing;
using Tomlyn.Serialization;
using Tomlyn.Syntax;

namespace Keel.Image;

/// <summary>
/// Turns manifest TOML into a <see cref="Manifest"/>. Tomlyn's syntax parser checks the TOML itself (it also
/// refuses a key or table defined twice, which its object model lets pass); the object model then gives the
/// values with each key's position. Every value is checked against what the control domain's reader, the
/// domain builder and the scheduler accept (the kernel file is read as the domain builder reads it), so what
/// passes here boots. Errors are collected rather than thrown one at a time, so one build reports them all.
/// </summary>
internal sealed partial class ManifestLoader(string sourceName, string baseDirectory, string domainsDirectory)
{
    private static readonly string[] TopLevelKeys = ["system", "domain"];
    private static readonly string[] SystemKeys = ["exit_when_done", "machine_memory"];
    private static readonly string[] DomainKeys =
        ["name", "kernel", "memory", "cmdline", "weight", "warp", "warp_limit", "unwarp", "on_crash", "on_poweroff", "count",
         "kernel_upgrade", "pci", "disk"];

    /// <summary>The domain a disk's backend names unless it names another: xl.cfg's default is dom0, Keel's blkback.</summary>
    private const string DefaultDiskBackend = "blkback";

    /// <summary>16 TiB: far beyond any machine Keel runs on, but a bound all the same.</summary>
    private const int MaxMachineMemoryMiB = 1 << 24;

    private const int MaxKernelValueLength = 255;

    private readonly List<ManifestDiagnostic> _errors = [];
    private readonly TomlMetadataStore _positions = new();
    private readonly Dictionary<string, (XenElfImage? Image, string? Problem)> _kernelFiles = [];

    /// <summary>Where each item of each array value is, by the position of its key: the object model keeps
    /// positions of keys only, and an error about one pci or disk string should point at that string.</summary>
    private Dictionary<Position, List<Position>> _arrayItems = [];

    /// <summary>A [[domain]] table decoded: the domain with its defaults, before count expansion, and where
    /// each of its pci and disk strings is.</summary>
    private sealed record DomainEntry(DomainSpec Domain, int? Count, Position NameAt, Position CountAt, Position CommandLineAt,
        IReadOnlyList<Position> PciAt, IReadOnlyList<Position> DiskAt);

    /// <summary>One copy of a domain after count expansion, with the entry it was made from.</summary>
    private sealed record Copy(DomainSpec Domain, DomainEntry Entry);

    private readonly record struct Position(int Line, int Column) : IComparable<Position>
    {
        public int CompareTo(Position other) => Line != other.Line ? Line.CompareTo(other.Line) : Column.CompareTo(other.Column);
    }

    public Manifest Load(string text)
    {
        var syntax = SyntaxParser.Parse(text, sourceName, true);
        foreach (var diagnostic in syntax.Diagnostics)
        {
            if (diagnostic.Kind == DiagnosticMessageKind.Error)
                _errors.Add(new(sourceName, diagnostic.Span.Start.Line + 1, diagnostic.Span.Start.Column + 1, diagnostic.Message));
        }
        if (_errors.Count > 0) throw new ManifestException(_errors);
        _arrayItems = ArrayItems(syntax);

        TomlTable root;
        try
        {
            root = TomlSerializer.Deserialize<TomlTable>(text, new TomlSerializerOptions { SourceName = sourceName, MetadataStore = _positions })!;
        }
        catch (TomlException e)
        {
            throw new ManifestException([new(sourceName, e.Line ?? 1, e.Column ?? 1, e.Message)]);
        }

        bool exitWhenDone = false;
        int? machineMemory = null;
        var entries = new List<DomainEntry>();
        foreach (var (key, value) in root)
        {
            switch (key)
            {
                case "system":
                    DecodeSystem(value, At(root, key), out exitWhenDone, out machineMemory);
                    break;
                case "domain":
                    entries = DecodeDomains(value, At(root, key), DomainHeaders(syntax));
                    break;
                default:
                    Error(At(root, key), $"unknown key \"{key}\" at the top level{Suggestion(key, TopLevelKeys)}; a manifest has a [system] table and [[domain]] tables");
                    break;
            }
        }

        var copies = Expand(entries);
        var domains = copies.Select(c => c.Domain).ToList();
        CheckDevices(copies);
        CheckDisks(copies);
        if (machineMemory is int machine && root.TryGetValue("system", out var systemValue) && systemValue is TomlTable system)
        {
            long total = domains.Sum(d => (long)d.MemoryMiB);
            if (total > machine)
                Error(At(system, "machine_memory"), $"the domains' memory adds up to {total} MiB, more than machine_memory = {machine} MiB");
        }
        if (_errors.Count > 0) throw new ManifestException([.. _errors.OrderBy(e => e.Line).ThenBy(e => e.Column)]);
        return new Manifest(exitWhenDone, machineMemory, domains);
    }

    private void DecodeSystem(object? value, Position at, out bool exitWhenDone, out int? machineMemory)
    {
        exitWhenDone = false;
        machineMemory = null;
        if (value is not TomlTable table)
        {
            Error(at, $"system must be a table (write [system] above its keys), not {TypeName(value)}");
            return;
        }
        foreach (var (key, _) in table)
        {
            if (!SystemKeys.Contains(key))
                Error(At(table, key), $"[system]: unknown key \"{key}\"{Suggestion(key, SystemKeys)}; its keys are {string.Join(", ", SystemKeys)}");
        }
        exitWhenDone = Typed<bool>(table, "exit_when_done", "[system]", "true or false");
        machineMemory = Integer(table, "machine_memory", "[system]", 1, MaxMachineMemoryMiB, "the machine's memory in MiB");
    }

    private List<DomainEntry> DecodeDomains(object? value, Position at, List<Position> headers)
    {
        List<TomlTable>? tables = value switch
        {
            TomlTableArray array => [.. array],
            TomlArray array when array.All(item => item is TomlTable) => [.. array.Cast<TomlTable>()],
            _ => null,
        };
        if (tables is null)
        {
            Error(at, $"domain must be an array of tables (write [[domain]] above each domain's keys), not {TypeName(value)}");
            return [];
        }
        var entries = new List<DomainEntry>();
        for (int i = 0; i < tables.Count; i++)
        {
            // Inline tables have no header of their own; their errors point at the domain key instead.
            var entry = DecodeDomain(tables[i], headers.Count == tables.Count ? headers[i] : at);
            if (entry is not null) entries.Add(entry);
        }
        return entries;
    }

    private DomainEntry? DecodeDomain(TomlTable table, Position header)
    {
        string label = table.TryGetValue("name", out var given) && given is string text && IsName(text)
            ? $"domain \"{text}\""
            : $"the domain at line {header.Line}";
        foreach (var (key, _) in table)
        {
            if (!DomainKeys.Contains(key))
                Error(At(table, key), $"{label}: unknown key \"{key}\"{Suggestion(key, DomainKeys)}; a domain's keys are {string.Join(", ", DomainKeys)}");
        }

        int errorsBefore = _errors.Count;
        string? name = Required(table, "name", label, header, String(table, "name", label));
        if (name is not null) CheckName(name, At(table, "name"), label);
        string? kernelValue = Required(table, "kernel", label, header, String(table, "kernel", label));
        int? memory = Required(table, "memory", label, header,
            Integer(table, "memory", label, ManifestLimits.MinMemoryMiB, ManifestLimits.MaxMemoryMiB, "a domain's memory in MiB"));
        string commandLine = String(table, "cmdline", label) ?? "";
        CheckCommandLine(commandLine, At(table, "cmdline"), label);
        int weight = Integer(table, "weight", label, ManifestLimits.MinWeight, ManifestLimits.MaxWeight, "a BVT weight") ?? ManifestLimits.DefaultWeight;
        var (warp, warpLimit, unwarp) = Warp(table, label);
        DomainAction onCrash = Action(table, "on_crash", label, restartAllowed: true);
        DomainAction onPoweroff = Action(table, "on_poweroff", label, restartAllowed: false);
        int? count = Integer(table, "count", label, 1, ManifestLimits.MaxDomains, "the number of copies");
        // A bad pci or disk string is left out of its list rather than dropping the domain, so the checks
        // across domains still see the rest and report their errors too.
        int itemErrors = _errors.Count;
        var (pci, pciAt) = XlList(table, "pci", label, "devices", ManifestLimits.MaxPciDevicesPerDomain,
            XlSyntax.ParsePci, (a, b) => a == b, device => $"device {device}");
        var (disks, diskAt) = XlList(table, "disk", label, "disks", ManifestLimits.MaxDisksPerDomain,
            (text, problems) => XlSyntax.ParseDisk(text, DefaultDiskBackend, problems), (a, b) => a.Vdev == b.Vdev, disk => $"vdev {disk.VdevName}");
        itemErrors = _errors.Count - itemErrors;

        KernelImage? kernel = kernelValue is null ? null : ResolveKernel(kernelValue, At(table, "kernel"), label);
        if (kernel is not null && memory is int mebibytes) CheckFits(kernel, mebibytes, At(table, "memory"), label);
        string? upgradeValue = String(table, "kernel_upgrade", label);
        KernelImage? upgrade = upgradeValue is null ? null : ResolveKernel(upgradeValue, At(table, "kernel_upgrade"), label, "kernel_upgrade");
        if (upgrade is not null && memory is int upgradeMebibytes) CheckFits(upgrade, upgradeMebibytes, At(table, "kernel_upgrade"), label);
        if (_errors.Count - itemErrors > errorsBefore || name is null || kernel is null || memory is null) return null;

        var domain = new DomainSpec(name, kernel, memory.Value, commandLine, weight, warp, warpLimit, unwarp, onCrash, onPoweroff, upgrade, pci, disks);
        return new DomainEntry(domain, count, At(table, "name"), At(table, "count"), At(table, "cmdline"), pciAt, diskAt);
    }

    /// <summary>
    /// An array of xl strings, xl.cfg's pci or disk: each parsed (a bad one is reported and left out), none
    /// the same as an earlier one (the same device, or the same vdev), at most limit of them. The checks
    /// across domains (a device held twice, a backend that cannot serve a disk) wait until every domain is read.
    /// </summary>
    private (List<T> Items, List<Position> At) XlList<T>(TomlTable table, string key, string label, string noun, int limit,
        Func<string, List<string>, T?> parse, Func<T, T, bool> same, Func<T, string> describe) where T : struct
    {
        var values = new List<T>();
        var at = new List<Position>();
        var items = Strings(table, key, label);
        if (items.Count > limit)
            Error(At(table, key), $"{label}: {key} lists {items.Count} {noun}; a domain has at most {limit}");
        foreach (var (text, position) in items)
        {
            var problems = new List<string>();
            if (parse(text, problems) is not T value)
            {
                foreach (string problem in problems) Error(position, $"{label}: {key} \"{text}\": {problem}");
                continue;
            }
            int first = values.FindIndex(v => same(v, value));
            if (first >= 0)
            {
                Error(position, $"{label}: {key} \"{text}\": {describe(value)} is used twice (line {at[first].Line} has it too)");
                continue;
            }
            values.Add(value);
            at.Add(position);
        }
        return (values, at);
    }

    /// <summary>An array of strings with each one's position; an error, and nothing, if the value is not one.</summary>
    private List<(string Text, Position At)> Strings(TomlTable table, string key, string label)
    {
        if (!table.TryGetValue(key, out var value)) return [];
        Position keyAt = At(table, key);
        if (value is not TomlArray array || array.Any(item => item is not string))
        {
            Error(keyAt, $"{label}: {key} must be an array of strings, not {(value is TomlArray ? "an array holding other values" : TypeName(value))}");
            return [];
        }
        var positions = _arrayItems.GetValueOrDefault(keyAt);
        return array.Select((item, i) => ((string)item!, positions is not null && i < positions.Count ? positions[i] : keyAt)).ToList();
    }

    /// <summary>
    /// BVT's warp W, limit L and unwarp time U. L and U mean nothing without W, and the scheduler refuses an L
    /// without a U (the limit would withdraw nothing), so both are errors rather than silently dropped.
    /// </summary>
    private (int Warp, int Limit, int Unwarp) Warp(TomlTable table, string label)
    {
        int warp = Integer(table, "warp", label, 0, ManifestLimits.MaxWarpMs, "a BVT warp in ms") ?? 0;
        int? limit = Integer(table, "warp_limit", label, 0, ManifestLimits.MaxWarpMs, "a BVT warp limit in ms");
        int? unwarp = Integer(table, "unwarp", label, 0, ManifestLimits.MaxWarpMs, "a BVT unwarp time in ms");
        if (warp == 0)
        {
            foreach (var (key, given) in new[] { ("warp_limit", limit), ("unwarp", unwarp) })
            {
                if (given > 0) Error(At(table, key), $"{label}: {key} = {given} means nothing without a warp: give warp > 0 or drop {key}");
            }
            return (0, 0, 0);
        }
        if (limit > 0 && (unwarp ?? 0) == 0)
            Error(At(table, "warp_limit"), $"{label}: warp_limit = {limit} needs unwarp > 0 too (how long the domain then stays unwarped); the scheduler refuses a limit without one");
        return (warp, limit ?? 0, unwarp ?? 0);
    }

    private DomainAction Action(TomlTable table, string key, string label, bool restartAllowed)
    {
        string? value = String(table, key, label);
        switch (value)
        {
            case null or "destroy":
                return DomainAction.Destroy;
            case "restart" when restartAllowed:
                return DomainAction.Restart;
            case "restart":
                Error(At(table, key), $"{label}: {key} = \"restart\" is not supported yet; only \"destroy\" is");
                return DomainAction.Destroy;
            default:
                Error(At(table, key), $"{label}: {key} = \"{value}\" is not an action; it may be {(restartAllowed ? "\"destroy\" or \"restart\"" : "\"destroy\"")}");
                return DomainAction.Destroy;
        }
    }

    private void CheckName(string name, Position at, string label)
    {
        if (!IsName(name))
            Error(at, $"{label}: name = \"{name}\" must be 1 to {ManifestLimits.MaxNameBytes} of a-z, 0-9 and -");
        else if (name is "dom0" or "control")
            Error(at, $"name = \"{name}\" is reserved for the control domain; pick another");
    }

    private void CheckCommandLine(string commandLine, Position at, string label)
    {
        if (commandLine.Length > ManifestLimits.MaxCommandLineBytes)
            Error(at, $"{label}: cmdline is {commandLine.Length} bytes long; start_info holds at most {ManifestLimits.MaxCommandLineBytes}");
        int bad = commandLine.AsSpan().IndexOfAnyExceptInRange(' ', '~');
        if (bad >= 0)
            Error(at, $"{label}: cmdline holds U+{(int)commandLine[bad]:X4} at offset {bad}; a command line is printable ASCII");
    }

    /// <summary>
    /// A kernel value containing '/' or ending in .elf is a path relative to the manifest; anything else names
    /// a domain image the build makes. Either way the file is read as the domain builder will read it.
    /// </summary>
    private KernelImage? ResolveKernel(string value, Position at, string label, string key = "kernel")
    {
        if (value.Length > MaxKernelValueLength || !KernelPattern().IsMatch(value))
        {
            Error(at, $"{label}: {key} = \"{value}\" must be an image name or a path of at most {MaxKernelValueLength} letters, digits and . _ + / - (it goes on a grub.cfg line)");
            return null;
        }
        bool isPath = value.Contains('/') || value.EndsWith(".elf", StringComparison.Ordinal);
        string path = isPath ? Path.GetFullPath(value, baseDirectory) : Path.GetFullPath(Path.Combine(domainsDirectory, value + ".elf"));
        if (!File.Exists(path))
        {
            string known = Directory.Exists(domainsDirectory)
                ? string.Join(", ", Directory.GetFiles(domainsDirectory, "*.elf").Select(Path.GetFileNameWithoutExtension).Order())
                : "";
            Error(at, isPath
                ? $"{label}: {key} = \"{value}\": {path} does not exist"
                : $"{label}: {key} = \"{value}\": the build makes no domain image of that name ({path} does not exist; it makes: {(known.Length > 0 ? known : "none yet")})");
            return null;
        }
        if (!_kernelFiles.TryGetValue(path, out var parsed))
        {
            XenElfError error = XenElfImage.TryParse(File.ReadAllBytes(path), out XenElfImage image);
            parsed = error == XenElfError.None ? (image, null) : (null, XenElfImage.Describe(error));
            _kernelFiles[path] = parsed;
        }
        if (parsed.Problem is not null)
        {
            Error(at, $"{label}: {key} = \"{value}\": {path} is not a PV64 kernel: {parsed.Problem}");
            return null;
        }
        return new KernelImage(value, path);
    }

    /// <summary>The domain builder's own layout: the kernel, the p2m list, start_info, the page tables and
    /// the stack must all fit in the domain's memory.</summary>
    private void CheckFits(KernelImage kernel, int memoryMiB, Position at, string label)
    {
        XenElfImage image = _kernelFiles[kernel.Path].Image!;
        PvLayoutError Layout(int mebibytes) =>
            PvLayout.TryCreate(image.VirtBase, image.ImageStart, image.ImageEnd, 0, (ulong)mebibytes * 256, out _);
        PvLayoutError error = Layout(memoryMiB);
        if (error == PvLayoutError.None) return;
        if (error != PvLayoutError.TooLittleMemory)
        {
            Error(at, $"{label}: kernel \"{kernel.Name}\" cannot be laid out: its initial mapping would fall outside the guest's part of the address space");
            return;
        }
        int least = Enumerable.Range(memoryMiB + 1, ManifestLimits.MaxMemoryMiB - memoryMiB).FirstOrDefault(m => Layout(m) == PvLayoutError.None);
        Error(at, least > 0
            ? $"{label}: memory = {memoryMiB} MiB is too little for kernel \"{kernel.Name}\" and its initial mapping; it needs at least {least} MiB"
            : $"{label}: kernel \"{kernel.Name}\" does not fit in any memory size up to {ManifestLimits.MaxMemoryMiB} MiB");
    }

    /// <summary>
    /// A domain with a count becomes count domains named name-0 .. name-(count-1) (with count = 1 too, so
    /// the names do not change as the count does); then names must be unique and the totals bounded.
    /// </summary>
    private List<Copy> Expand(List<DomainEntry> entries)
    {
        var domains = new List<Copy>();
        var defined = new Dictionary<string, Position>();
        long commandLineBytes = 0;
        foreach (var entry in entries)
        {
            int copies = entry.Count ?? 1;
            Position at = entry.Count is null ? entry.NameAt : entry.CountAt;
            string longest = entry.Count is null ? entry.Domain.Name : $"{entry.Domain.Name}-{copies - 1}";
            if (longest.Length > ManifestLimits.MaxNameBytes)
            {
                Error(at, $"domain \"{entry.Domain.Name}\": count = {copies} makes names up to \"{longest}\", longer than {ManifestLimits.MaxNameBytes} characters");
                continue;
            }
            if (domains.Count + copies > ManifestLimits.MaxDomains)
            {
                Error(at, $"domain \"{entry.Domain.Name}\": with it the manifest lists {domains.Count + copies} domains, more than the {ManifestLimits.MaxDomains} allowed");
                break;
            }
            commandLineBytes += (long)copies * entry.Domain.CommandLine.Length;
            if (commandLineBytes > ManifestLimits.MaxCommandLineTotalBytes)
            {
                Error(entry.CommandLineAt, $"domain \"{entry.Domain.Name}\": with it the command lines add up to {commandLineBytes} bytes, more than the {ManifestLimits.MaxCommandLineTotalBytes} the control domain keeps room for");
                break;
            }
            for (int i = 0; i < copies; i++)
            {
                string name = entry.Count is null ? entry.Domain.Name : $"{entry.Domain.Name}-{i}";
                if (defined.TryGetValue(name, out Position first))
                {
                    Error(at, $"domain name \"{name}\" is used twice: the domain at line {first.Line} has it too");
                    continue;
                }
                defined[name] = at;
                domains.Add(new Copy(entry.Domain with { Name = name }, entry));
            }
        }
        return domains;
    }

    /// <summary>
    /// Each PCI function goes to one domain only: two holders could each program its DMA into the other's
    /// memory. Copies of one entry share its strings, so a clash is reported once per pair of strings, and
    /// a clash among copies as the count that makes it.
    /// </summary>
    private void CheckDevices(List<Copy> copies)
    {
        var holders = new Dictionary<PciAddress, (Copy Copy, Position At)>();
        var reported = new HashSet<(Position, Position)>();
        int total = 0;
        foreach (var copy in copies)
        {
            var devices = copy.Domain.Pci;
            total += devices.Count;
            if (devices.Count > 0 && total > ManifestLimits.MaxPciDevices && total - devices.Count <= ManifestLimits.MaxPciDevices)
                Error(copy.Entry.PciAt[0], $"domain \"{copy.Domain.Name}\": with it {total} PCI devices are given out, more than the {ManifestLimits.MaxPciDevices} allowed");
            for (int i = 0; i < devices.Count; i++)
            {
                Position at = copy.Entry.PciAt[i];
                if (!holders.TryAdd(devices[i], (copy, at)))
                {
                    var holder = holders[devices[i]];
                    if (!reported.Add((holder.At, at))) continue;
                    Error(at, ReferenceEquals(holder.Copy.Entry, copy.Entry)
                        ? $"domain \"{copy.Entry.Domain.Name}\": count = {copy.Entry.Count} would give pci device {devices[i]} to every copy; a device may be given to one domain only"
                        : $"domain \"{copy.Domain.Name}\": pci device {devices[i]} is already given to domain \"{holder.Copy.Domain.Name}\" (line {holder.At.Line}); a device may be given to one domain only");
                }
            }
        }
    }

    /// <summary>
    /// A disk's backend must be another domain of the manifest with a PCI function for each disk up to its
    /// target (each virtio-blk disk is a function of its own), and disks on one target may share sectors
    /// only when none of them is writable, or one guest could change what another reads. Disk sizes are
    /// unknown until blkback finds its disks (it checks each range then), so that is all a build can check.
    /// </summary>
    private void CheckDisks(List<Copy> copies)
    {
        var byName = copies.ToDictionary(c => c.Domain.Name);
        var unserved = new HashSet<Position>();
        foreach (var copiesOfEntry in copies.GroupBy(c => c.Entry, ReferenceEqualityComparer.Instance))
        {
            var entry = (DomainEntry)copiesOfEntry.Key!;
            for (int i = 0; i < entry.Domain.Disks.Count; i++)
            {
                DiskSpec disk = entry.Domain.Disks[i];
                string? problem = BackendProblem(disk, copiesOfEntry.Any(c => c.Domain.Name == disk.Backend), byName.GetValueOrDefault(disk.Backend)?.Domain);
                if (problem is null) continue;
                Error(entry.DiskAt[i], $"domain \"{entry.Domain.Name}\": disk {disk.VdevName}: {problem}");
                unserved.Add(entry.DiskAt[i]);
            }
        }

        var disks = copies.SelectMany(c => c.Domain.Disks.Select((disk, i) => (c.Domain.Name, Disk: disk, At: c.Entry.DiskAt[i], c.Entry))).ToList();
        if (disks.Count > ManifestLimits.MaxDisks)
        {
            var passing = disks[ManifestLimits.MaxDisks];
            Error(passing.At, $"domain \"{passing.Name}\": with it the manifest has {disks.Count} disks, more than the {ManifestLimits.MaxDisks} allowed");
            return;
        }
        // Each pair of strings once, whichever copies meet on it and in whichever order.
        var reported = new HashSet<(Position, Position)>();
        foreach (var onTarget in disks.Where(d => !unserved.Contains(d.At)).GroupBy(d => (d.Disk.Backend, d.Disk.Target)))
        {
            var list = onTarget.ToList();
            for (int j = 1; j < list.Count; j++)
            {
                for (int i = 0; i < j; i++)
                {
                    var (a, b) = (list[i], list[j]);
                    bool overlap = a.Disk.StartSector < b.Disk.EndSector && b.Disk.StartSector < a.Disk.EndSector;
                    var pair = a.At.CompareTo(b.At) <= 0 ? (a.At, b.At) : (b.At, a.At);
                    if (!overlap || !(a.Disk.Writable || b.Disk.Writable) || !reported.Add(pair)) continue;
                    Error(b.At, a.At == b.At
                        ? $"domain \"{b.Entry.Domain.Name}\": count = {b.Entry.Count} gives every copy disk {b.Disk.VdevName} on {Sectors(b.Disk)}, writable; give each copy a range of its own or make it read-only"
                        : $"domain \"{b.Name}\": disk {b.Disk.VdevName} on {Sectors(b.Disk)} shares sectors with domain \"{a.Name}\"'s disk {a.Disk.VdevName} on {Sectors(a.Disk)} (line {a.At.Line}), and one of them is writable; disks may share sectors only read-only");
                }
            }
        }
    }

    /// <summary>Why the backend cannot serve the disk, or null when it can.</summary>
    private static string? BackendProblem(DiskSpec disk, bool servesItself, DomainSpec? backend)
    {
        if (backend is null)
            return $"backend \"{disk.Backend}\" is not a domain of this manifest{(disk.Backend == DefaultDiskBackend ? " (a disk without backend= is served by blkback)" : "")}";
        if (servesItself) return $"backend \"{disk.Backend}\" is this domain itself; a domain cannot serve its own disks";
        int found = backend.Pci.Count;
        if (found == 0) return $"backend \"{disk.Backend}\" has no pci devices, so it finds no disks to serve; give it its virtio-blk devices with pci";
        if (disk.Target < found) return null;
        return $"target {disk.TargetName}: backend \"{disk.Backend}\" has {found} pci device{(found == 1 ? ", so it finds one disk at most, vda" : $"s, so it finds {found} disks at most, vda to {DiskSpec.TargetNameOf(found - 1)}")}";
    }

    private static string Sectors(DiskSpec disk) =>
        (disk.IsWholeTarget ? "all of " : $"sectors {disk.StartSector} to {disk.EndSector - 1} of ") + $"{disk.TargetName} of \"{disk.Backend}\"";

    /// <summary>Passes the value through, reporting the key missing at the domain's header when it is absent.</summary>
    private T? Required<T>(TomlTable table, string key, string label, Position header, T? value)
    {
        if (!table.ContainsKey(key)) Error(header, $"{label}: the required key \"{key}\" is missing");
        return value;
    }

    private string? String(TomlTable table, string key, string label) =>
        Typed<string>(table, key, label, "a string");

    private int? Integer(TomlTable table, string key, string label, long min, long max, string meaning)
    {
        if (!table.TryGetValue(key, out var value)) return null;
        if (value is not long number)
        {
            Error(At(table, key), $"{label}: {key} must be an integer ({meaning}), not {TypeName(value)}");
            return null;
        }
        if (number < min || number > max)
        {
            Error(At(table, key), $"{label}: {key} = {number} is out of range: {meaning} is {min} to {max}");
            return null;
        }
        return (int)number;
    }

    /// <summary>The value if it has the type; an error if it is there with another type.</summary>
    private T? Typed<T>(TomlTable table, string key, string label, string expected)
    {
        if (!table.TryGetValue(key, out var value)) return default;
        if (value is T typed) return typed;
        Error(At(table, key), $"{label}: {key} must be {expected}, not {TypeName(value)}");
        return default;
    }

    private static string TypeName(object? value) => value switch
    {
        string => "a string",
        long => "an integer",
        double => "a float",
        bool => "a boolean",
        TomlDateTime => "a date-time",
        TomlTableArray => "an array of tables",
        TomlArray => "an array",
        TomlTable => "a table",
        _ => value?.GetType().Name ?? "nothing",
    };

    /// <summary>" (did you mean ...?)" for a key within two edits of a known one: typos get a pointer.</summary>
    private static string Suggestion(string key, string[] known)
    {
        string? best = known.MinBy(k => EditDistance(key, k));
        return best is not null && EditDistance(key, best) <= 2 ? $" (did you mean \"{best}\"?)" : "";
    }

    private static int EditDistance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    private Position At(TomlTable table, string key) =>
        _positions.TryGetProperties(table, out var properties) && properties?.TryGetProperty(key, out var metadata) == true && metadata is not null
            ? new Position(metadata.Span.Start.Line + 1, metadata.Span.Start.Column + 1)
            : new Position(1, 1);

    /// <summary>Each array value's item positions by its key's position (what the object model's metadata gives).</summary>
    private static Dictionary<Position, List<Position>> ArrayItems(DocumentSyntax syntax)
    {
        var items = new Dictionary<Position, List<Position>>();
        foreach (var keyValue in syntax.Descendants().OfType<KeyValueSyntax>())
        {
            if (keyValue.Key is null || keyValue.Value is not ArraySyntax array) continue;
            items[Start(keyValue.Key)] = array.Items.Where(item => item.Value is not null).Select(item => Start(item.Value!)).ToList();
        }
        return items;
    }

    private static Position Start(SyntaxNode node) => new(node.Span.Start.Line + 1, node.Span.Start.Column + 1);

    /// <summary>Where each [[domain]] header is, in order, so an error about a whole domain can point at it.</summary>
    private static List<Position> DomainHeaders(DocumentSyntax syntax) =>
        syntax.Tables.OfType<TableArraySyntax>()
            .Where(t => t.Name?.ToString()?.Trim() == "domain")
            .Select(t => new Position(t.Span.Start.Line + 1, t.Span.Start.Column + 1))
            .ToList();

    private void Error(Position at, string message) => _errors.Add(new(sourceName, at.Line, at.Column, message));

    internal static bool IsName(string text) => text.Length <= ManifestLimits.MaxNameBytes && NamePattern().IsMatch(text);

    [GeneratedRegex("^[a-z0-9-]+$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z0-9._+/-]+$")]
    private static partial Regex KernelPattern();
}

// The system manifest as the control domain receives it: a boot module of plain ASCII text that the image
// tool writes (image/ManifestText.cs) from the TOML manifest it has already checked. The module can be
// replaced by anyone who can change the boot medium, so this reader trusts nothing in it: every line and
// value is bounded, every value is checked against the same limits the image tool applies, and a bad module
// yields a problem and its line number, never a throw.
//
// The format, version 2. Lines end in LF (no CR); each is at most ManifestLimits.MaxLineBytes bytes
// including the LF; the text is printable ASCII apart from the LFs.
//
//   keel-manifest 2
//   system exit_when_done=1
//   domain name=blkback module=1 upgrade_module=2 memory=32 weight=256 warp=0 warp_limit=0 unwarp=0 on_crash=restart on_poweroff=destroy cmdline=
//   domain name=hello module=3 upgrade_module=0 memory=16 weight=256 warp=0 warp_limit=0 unwarp=0 on_crash=destroy on_poweroff=destroy cmdline=hello%20world
//   pci domain=blkback sbdf=32
//   disk domain=hello backend=blkback vdev=xvda access=rw target=0 start=0 sectors=0
//   disk domain=hello backend=blkback vdev=xvdb access=ro target=0 start=2048 sectors=65536
//   end domains=2 pci=1 disks=2
//
// - Line 1 is exactly "keel-manifest 2"; line 2 is the one "system" line; then the "domain" lines, one per
//   domain in the order they are to be built; then the "pci" lines; then the "disk" lines; then
//   "end domains=N pci=M disks=K", the numbers of domain, pci and disk lines, so that a truncated module is
//   noticed. pci and disk lines come grouped by the domain they belong to, in the order of the domain
//   lines, so each domain's devices and disks are one run of the arrays. Anything after the end line must
//   be NUL bytes (a module handed over in whole pages is padded with zeros).
// - After the record word come fields "key=value", separated by single spaces. Every key of the record
//   must be there exactly once, in any order: the image tool has already filled in every default, so the
//   control domain applies no policy of its own.
// - Numbers are decimal digits without sign or leading zeros, at most 7 digits (13 for start and sectors).
// - system: exit_when_done is 0 or 1 (1: shut the machine down once every guest has ended).
// - domain: name is 1 to 32 of [a-z0-9-], neither "dom0" nor "control", and unique; module is the boot
//   module holding the domain's PV64 kernel, counted from the manifest's own module, which is 0 (the image
//   tool lists the manifest and then each distinct kernel once, consecutively, as "manifest" and
//   "kernel NAME"), at most ManifestLimits.MaxModules; upgrade_module is the kernel an upgrade command
//   switches the domain to, counted the same way, 0 for none; memory is in MiB; weight is the BVT weight;
//   warp, warp_limit and unwarp are BVT's W, L and U in ms (warp 0 turns warping off and then the other
//   two are 0; a warp_limit needs an unwarp time, as the scheduler requires); on_crash is destroy or
//   restart, on_poweroff is destroy; cmdline is the command line, percent-encoded: "%" followed by two hex
//   digits stands for that byte, every other byte stands for itself and must be printable ASCII other than
//   space and "%". Decoded, it is printable ASCII (space included) of at most
//   ManifestLimits.MaxCommandLineBytes bytes, and may be empty; all the domains' command lines together
//   are at most ManifestLimits.MaxCommandLineTotalBytes.
// - pci (xl.cfg's pci): the PCI function sbdf, segment 0 (bus << 8 | device << 3 | function, so 0 to
//   65535), is given to the domain a domain line names. A function is given to one domain only; a domain
//   has at most ManifestLimits.MaxPciDevicesPerDomain, the system at most ManifestLimits.MaxPciDevices.
// - disk (xl.cfg's disk): a virtual block device vdev (xvda to xvdz, unique within the domain) of the
//   domain a domain line names, served by the back-end domain backend, another domain with at least one
//   pci line; access is ro or rw; target is the back-end's physical disk, counted in the order it finds
//   its virtio-blk devices (0 for vda), less than its number of pci lines (each such disk is a PCI
//   function of its own); start and sectors are the 512-byte sectors of the target the guest sees,
//   sectors 0 meaning from start 0 to the end of the disk (whose size only the back-end learns), and
//   start + sectors at most ManifestLimits.MaxDiskSectors. Two disks on one target of one back-end may
//   share sectors only if neither is writable. A domain has at most ManifestLimits.MaxDisksPerDomain
//   disks, the system at most ManifestLimits.MaxDisks.
//
// What reading costs: one array each of exactly as many entries as there are domain, pci and disk lines,
// a string per name and per command line, nothing else; for a manifest at every limit, under 512 KiB of the
// domain's heap. The checks across lines compare pairs within those bounds, at most half a million pairs.

using System;

namespace Keel.Runtime
{
    /// <summary>The bounds every manifest obeys; the image tool checks the TOML against these same numbers.</summary>
    public static class ManifestLimits
    {
        public const int MaxDomains = 1024;
        public const int MaxNameBytes = 32;
        public const int MinMemoryMiB = 4;
        public const int MaxMemoryMiB = 65536;

        /// <summary>Each domain's kernel and its upgrade kernel, every one distinct.</summary>
        public const int MaxModules = 2 * MaxDomains;

        /// <summary>start_info's command line is 1024 bytes with its terminating NUL.</summary>
        public const int MaxCommandLineBytes = 1023;

        /// <summary>
        /// All command lines together (128 full ones): the reader keeps each as a string, and a domain's heap
        /// is 1 MiB, so without this bound a module of 1024 full command lines would exhaust the control domain.
        /// </summary>
        public const int MaxCommandLineTotalBytes = 128 * 1024;

        public const int MinWeight = 1;
        public const int MaxWeight = 65535;

        /// <summary>Xen's credit scheduler gives every domain this weight unless told otherwise.</summary>
        public const int DefaultWeight = 256;

        /// <summary>BVT's warp, warp limit and unwarp time, in ms; the scheduler takes up to 2^40 ns.</summary>
        public const int MaxWarpMs = 1000000;

        /// <summary>PCI functions one driver domain holds: a few disks or network cards each.</summary>
        public const int MaxPciDevicesPerDomain = 8;

        /// <summary>PCI functions given out in all; segment 0 has 65536, a machine Keel runs on a handful.</summary>
        public const int MaxPciDevices = 256;

        /// <summary>The highest segment-0 SBDF: bus 0xff, device 0x1f, function 7.</summary>
        public const int MaxSbdf = 0xFFFF;

        /// <summary>Virtual disks per domain: more than a guest here needs, and a bound on each domain's run of Manifest.Disks.</summary>
        public const int MaxDisksPerDomain = 16;

        /// <summary>Virtual disks in all, so the reader's pairwise overlap check stays near half a million pairs.</summary>
        public const int MaxDisks = 1024;

        /// <summary>The highest sector a disk's range may reach, 2^40 sectors (512 TiB): a bound far beyond any disk.</summary>
        public const long MaxDiskSectors = 1L << 40;

        /// <summary>The longest line: a 32-byte name, a command line whose every byte is encoded, the rest.</summary>
        public const int MaxLineBytes = 4096;

        /// <summary>The version the first line names.</summary>
        public const int FormatVersion = 2;
    }

    /// <summary>What happens to a domain when it ends (xl.cfg's on_crash, on_poweroff).</summary>
    public enum DomainAction : byte
    {
        Destroy,
        Restart,
    }

    /// <summary>One domain the control domain is to build.</summary>
    public struct ManifestDomain
    {
        public string Name;

        /// <summary>The kernel's boot module, counted from the manifest's module (0).</summary>
        public int Module;

        /// <summary>The boot module of the kernel an upgrade switches the domain to; 0 for none.</summary>
        public int UpgradeModule;

        public int MemoryMiB;
        public int Weight;
        public int WarpMs;
        public int WarpLimitMs;
        public int UnwarpMs;
        public DomainAction OnCrash;
        public DomainAction OnPoweroff;

        /// <summary>Decoded: printable ASCII, possibly empty.</summary>
        public string CommandLine;

        /// <summary>The domain's devices are Manifest.PciDevices[FirstPci .. FirstPci + PciCount).</summary>
        public int FirstPci;
        public int PciCount;

        /// <summary>The domain's disks are Manifest.Disks[FirstDisk .. FirstDisk + DiskCount).</summary>
        public int FirstDisk;
        public int DiskCount;
    }

    /// <summary>A PCI function given to a driver domain (xl.cfg's pci).</summary>
    public struct ManifestPciDevice
    {
        /// <summary>The index in Manifest.Domains of the domain that holds it.</summary>
        public int Domain;

        /// <summary>Segment 0: bus << 8 | device << 3 | function, as Xen's domctl names a device.</summary>
        public int Sbdf;
    }

    /// <summary>A virtual disk of a domain and where its back-end finds its sectors (xl.cfg's disk).</summary>
    public struct ManifestDisk
    {
        /// <summary>The index in Manifest.Domains of the guest that sees the disk.</summary>
        public int Domain;

        /// <summary>The index in Manifest.Domains of the domain serving it, a driver domain.</summary>
        public int Backend;

        /// <summary>The guest's name for it: 0 for xvda, 1 for xvdb, ...</summary>
        public int Vdev;

        public bool Writable;

        /// <summary>The back-end's physical disk: 0 for the first virtio-blk device it finds (vda).</summary>
        public int Target;

        public long StartSector;

        /// <summary>0: from sector 0 to the end of the target, whatever its size.</summary>
        public long Sectors;
    }

    /// <summary>Why a manifest module was refused. <see cref="Manifest.Describe"/> gives each as a sentence.</summary>
    public enum ManifestProblem
    {
        None,
        BadHeader,
        LineTooLong,
        UnterminatedLine,
        BadCharacter,
        UnknownRecord,
        MalformedField,
        UnknownKey,
        RepeatedKey,
        MissingKey,
        BadNumber,
        OutOfRange,
        BadName,
        ReservedName,
        DuplicateName,
        BadAction,
        BadCommandLine,
        CommandLinesTooLong,
        BadWarp,
        MissingSystem,
        TooManyDomains,
        MissingEnd,
        CountMismatch,
        TextAfterEnd,
        OutOfOrder,
        UnknownDomain,
        DuplicateDevice,
        TooManyDevices,
        BadBackend,
        NoSuchTarget,
        BadVdev,
        DuplicateVdev,
        BadAccess,
        BadRange,
        DiskOverlap,
        TooManyDisks,
    }

    /// <summary>A problem and the 1-based line it was found on.</summary>
    public readonly struct ManifestError
    {
        public readonly ManifestProblem Problem;
        public readonly int Line;

        public ManifestError(ManifestProblem problem, int line)
        {
            Problem = problem;
            Line = line;
        }

        public bool IsError => Problem != ManifestProblem.None;
    }

    /// <summary>The control domain's view of the system: what to build, and what to do when all is done.</summary>
    public sealed class Manifest
    {
        public bool ExitWhenDone { get; private set; }

        /// <summary>In the order they are to be built; exactly as many as the module lists.</summary>
        public ManifestDomain[] Domains { get; private set; }

        /// <summary>Every device given out, grouped by domain in domain order.</summary>
        public ManifestPciDevice[] PciDevices { get; private set; }

        /// <summary>Every virtual disk, grouped by the guest that sees it, in domain order.</summary>
        public ManifestDisk[] Disks { get; private set; }

        // Each record's keys, in the order of the field indexes its reader uses.
        private const int ExitWhenDoneField = 0;
        private const int NameField = 0, ModuleField = 1, UpgradeModuleField = 2, MemoryField = 3, WeightField = 4, WarpField = 5,
            WarpLimitField = 6, UnwarpField = 7, OnCrashField = 8, OnPoweroffField = 9, CommandLineField = 10;
        private const int OwnerField = 0, SbdfField = 1;
        private const int BackendField = 1, VdevField = 2, AccessField = 3, TargetField = 4, StartField = 5, SectorsField = 6;
        private const int DomainsField = 0, PciField = 1, DisksField = 2;
        private const int MaxFields = 11;

        private const int MaxDigits = 7;
        private const int MaxSectorDigits = 13;

        private int _domainCount, _pciCount, _diskCount, _commandLineBytes;

        /// <summary>Reads a manifest module. On success manifest is set and the error is None; otherwise manifest
        /// is null and the error names the first problem and its line.</summary>
        public static ManifestError TryRead(ReadOnlySpan<byte> text, out Manifest manifest)
        {
            manifest = null;
            var lines = new LineReader(text);
            ReadOnlySpan<byte> line;

            ManifestProblem problem = lines.Next(out line);
            if (problem == ManifestProblem.MissingEnd) problem = ManifestProblem.BadHeader;
            if (problem != ManifestProblem.None) return new ManifestError(problem, lines.Number);
            if (!Equal(line, "keel-manifest 2"u8)) return new ManifestError(ManifestProblem.BadHeader, lines.Number);

            problem = lines.Next(out line);
            if (problem == ManifestProblem.MissingEnd) problem = ManifestProblem.MissingSystem;
            if (problem != ManifestProblem.None) return new ManifestError(problem, lines.Number);
            if (!StartsWithWord(line, "system"u8)) return new ManifestError(ManifestProblem.MissingSystem, lines.Number);
            var result = new Manifest();
            problem = result.ReadSystem(line.Slice(6));
            if (problem != ManifestProblem.None) return new ManifestError(problem, lines.Number);

            result.Domains = new ManifestDomain[CountLines(text, "domain"u8, ManifestLimits.MaxDomains)];
            result.PciDevices = new ManifestPciDevice[CountLines(text, "pci"u8, ManifestLimits.MaxPciDevices)];
            result.Disks = new ManifestDisk[CountLines(text, "disk"u8, ManifestLimits.MaxDisks)];
            while (true)
            {
                problem = lines.Next(out line);
                if (problem != ManifestProblem.None) return new ManifestError(problem, lines.Number);
                if (StartsWithWord(line, "end"u8))
                {
                    problem = result.ReadEnd(line.Slice(3));
                    if (problem != ManifestProblem.None) return new ManifestError(problem, lines.Number);
                    if (!lines.RestIsPadding()) return new ManifestError(ManifestProblem.TextAfterEnd, lines.Number + 1);
                    break;
                }
                if (StartsWithWord(line, "domain"u8)) problem = result.AddDomain(line.Slice(6));
                else if (StartsWithWord(line, "pci"u8)) problem = result.AddPci(line.Slice(3));
                else if (StartsWithWord(line, "disk"u8)) problem = result.AddDisk(line.Slice(4));
                else problem = ManifestProblem.UnknownRecord;
                if (problem != ManifestProblem.None) return new ManifestError(problem, lines.Number);
            }

            // Every domain, pci and disk line comes before the end line (only NULs may follow it), was read,
            // and the end line's counts matched, so the arrays are full.
            manifest = result;
            return new ManifestError(ManifestProblem.None, 0);
        }

        public static string Describe(ManifestProblem problem) => problem switch
        {
            ManifestProblem.None => "no problem",
            ManifestProblem.BadHeader => "the first line is not \"keel-manifest 2\"",
            ManifestProblem.LineTooLong => "the line is longer than 4096 bytes",
            ManifestProblem.UnterminatedLine => "the last line has no line feed",
            ManifestProblem.BadCharacter => "the line holds a byte that is not printable ASCII",
            ManifestProblem.UnknownRecord => "the line is not a domain, pci, disk or end line",
            ManifestProblem.MalformedField => "a field is not key=value after a single space",
            ManifestProblem.UnknownKey => "a key is not one this record has",
            ManifestProblem.RepeatedKey => "a key appears twice",
            ManifestProblem.MissingKey => "a key of the record is missing",
            ManifestProblem.BadNumber => "a number is not decimal digits without leading zeros, at most 7 (13 for start and sectors)",
            ManifestProblem.OutOfRange => "a number is outside the range its key allows",
            ManifestProblem.BadName => "a name is not 1 to 32 of a-z, 0-9 and -",
            ManifestProblem.ReservedName => "a domain is named dom0 or control",
            ManifestProblem.DuplicateName => "two domains have the same name",
            ManifestProblem.BadAction => "on_crash is not destroy or restart, or on_poweroff is not destroy",
            ManifestProblem.BadCommandLine => "the command line is badly encoded, not printable ASCII, or longer than 1023 bytes",
            ManifestProblem.CommandLinesTooLong => "the command lines add up to more than 131072 bytes",
            ManifestProblem.BadWarp => "warp_limit or unwarp is set without a warp, or a warp_limit without an unwarp",
            ManifestProblem.MissingSystem => "the second line is not the system line",
            ManifestProblem.TooManyDomains => "there are more than 1024 domain lines",
            ManifestProblem.MissingEnd => "the text ends before the end line",
            ManifestProblem.CountMismatch => "the end line's counts are not the numbers of domain, pci and disk lines",
            ManifestProblem.TextAfterEnd => "there is text after the end line",
            ManifestProblem.OutOfOrder => "the line is out of order: domain lines, then pci lines, then disk lines, each grouped by domain in domain order",
            ManifestProblem.UnknownDomain => "a pci or disk line names a domain no domain line has",
            ManifestProblem.DuplicateDevice => "a PCI device is given out twice",
            ManifestProblem.TooManyDevices => "a domain has more than 8 pci lines, or there are more than 256 in all",
            ManifestProblem.BadBackend => "a disk's backend is its own domain or has no pci line",
            ManifestProblem.NoSuchTarget => "a disk's target is not below its backend's number of pci lines",
            ManifestProblem.BadVdev => "a vdev is not xvda to xvdz",
            ManifestProblem.DuplicateVdev => "a domain has two disks of one vdev",
            ManifestProblem.BadAccess => "a disk's access is not ro or rw",
            ManifestProblem.BadRange => "a disk of sectors 0 (the whole target) does not start at 0, or its range passes 2^40 sectors",
            ManifestProblem.DiskOverlap => "two disks share sectors of one target and one of them is writable",
            ManifestProblem.TooManyDisks => "a domain has more than 16 disk lines, or there are more than 1024 in all",
            _ => "unknown problem",
        };

        private ManifestProblem ReadSystem(ReadOnlySpan<byte> line)
        {
            var fields = new Fields(line, stackalloc int[MaxFields], stackalloc int[MaxFields]);
            ManifestProblem problem = fields.Split("exit_when_done"u8);
            if (problem != ManifestProblem.None) return problem;
            problem = ReadNumber(fields[ExitWhenDoneField], 0, 1, out int flag);
            ExitWhenDone = flag == 1;
            return problem;
        }

        private ManifestProblem ReadEnd(ReadOnlySpan<byte> line)
        {
            var fields = new Fields(line, stackalloc int[MaxFields], stackalloc int[MaxFields]);
            ManifestProblem problem = fields.Split("domains pci disks"u8);
            if (problem != ManifestProblem.None) return problem;
            problem = ReadNumber(fields[DomainsField], 0, ManifestLimits.MaxDomains, out int domains)
                .Or(ReadNumber(fields[PciField], 0, ManifestLimits.MaxPciDevices, out int pci))
                .Or(ReadNumber(fields[DisksField], 0, ManifestLimits.MaxDisks, out int disks));
            if (problem != ManifestProblem.None) return problem;
            return domains == _domainCount && pci == _pciCount && disks == _diskCount ? ManifestProblem.None : ManifestProblem.CountMismatch;
        }

        private ManifestProblem AddDomain(ReadOnlySpan<byte> line)
        {
            if (_pciCount > 0 || _diskCount > 0) return ManifestProblem.OutOfOrder;
            if (_domainCount == Domains.Length) return ManifestProblem.TooManyDomains;
            var fields = new Fields(line, stackalloc int[MaxFields], stackalloc int[MaxFields]);
            ManifestProblem problem = fields.Split("name module upgrade_module memory weight warp warp_limit unwarp on_crash on_poweroff cmdline"u8);
            if (problem != ManifestProblem.None) return problem;
            ref ManifestDomain domain = ref Domains[_domainCount];
            problem = ReadName(fields[NameField], out domain.Name)
                .Or(ReadNumber(fields[ModuleField], 1, ManifestLimits.MaxModules, out domain.Module))
                .Or(ReadNumber(fields[UpgradeModuleField], 0, ManifestLimits.MaxModules, out domain.UpgradeModule))
                .Or(ReadNumber(fields[MemoryField], ManifestLimits.MinMemoryMiB, ManifestLimits.MaxMemoryMiB, out domain.MemoryMiB))
                .Or(ReadNumber(fields[WeightField], ManifestLimits.MinWeight, ManifestLimits.MaxWeight, out domain.Weight))
                .Or(ReadNumber(fields[WarpField], 0, ManifestLimits.MaxWarpMs, out domain.WarpMs))
                .Or(ReadNumber(fields[WarpLimitField], 0, ManifestLimits.MaxWarpMs, out domain.WarpLimitMs))
                .Or(ReadNumber(fields[UnwarpField], 0, ManifestLimits.MaxWarpMs, out domain.UnwarpMs))
                .Or(ReadAction(fields[OnCrashField], true, out domain.OnCrash))
                .Or(ReadAction(fields[OnPoweroffField], false, out domain.OnPoweroff))
                .Or(ReadCommandLine(fields[CommandLineField], out domain.CommandLine));
            if (problem != ManifestProblem.None) return problem;
            bool warpRuleHolds = domain.WarpMs == 0
                ? domain.WarpLimitMs == 0 && domain.UnwarpMs == 0
                : domain.WarpLimitMs == 0 || domain.UnwarpMs != 0;
            if (!warpRuleHolds) return ManifestProblem.BadWarp;
            if (FindDomain(fields[NameField], _domainCount) >= 0) return ManifestProblem.DuplicateName;
            _commandLineBytes += domain.CommandLine.Length;
            if (_commandLineBytes > ManifestLimits.MaxCommandLineTotalBytes) return ManifestProblem.CommandLinesTooLong;
            _domainCount++;
            return ManifestProblem.None;
        }

        private ManifestProblem AddPci(ReadOnlySpan<byte> line)
        {
            if (_diskCount > 0) return ManifestProblem.OutOfOrder;
            if (_pciCount == PciDevices.Length) return ManifestProblem.TooManyDevices;
            var fields = new Fields(line, stackalloc int[MaxFields], stackalloc int[MaxFields]);
            ManifestProblem problem = fields.Split("domain sbdf"u8);
            if (problem != ManifestProblem.None) return problem;
            ref ManifestPciDevice device = ref PciDevices[_pciCount];
            device.Domain = FindDomain(fields[OwnerField], _domainCount);
            if (device.Domain < 0) return ManifestProblem.UnknownDomain;
            problem = ReadNumber(fields[SbdfField], 0, ManifestLimits.MaxSbdf, out device.Sbdf);
            if (problem != ManifestProblem.None) return problem;
            if (_pciCount > 0 && device.Domain < PciDevices[_pciCount - 1].Domain) return ManifestProblem.OutOfOrder;
            for (int i = 0; i < _pciCount; i++)
            {
                if (PciDevices[i].Sbdf == device.Sbdf) return ManifestProblem.DuplicateDevice;
            }
            ref ManifestDomain owner = ref Domains[device.Domain];
            if (owner.PciCount == ManifestLimits.MaxPciDevicesPerDomain) return ManifestProblem.TooManyDevices;
            if (owner.PciCount == 0) owner.FirstPci = _pciCount;
            owner.PciCount++;
            _pciCount++;
            return ManifestProblem.None;
        }

        private ManifestProblem AddDisk(ReadOnlySpan<byte> line)
        {
            if (_diskCount == Disks.Length) return ManifestProblem.TooManyDisks;
            var fields = new Fields(line, stackalloc int[MaxFields], stackalloc int[MaxFields]);
            ManifestProblem problem = fields.Split("domain backend vdev access target start sectors"u8);
            if (problem != ManifestProblem.None) return problem;
            ref ManifestDisk disk = ref Disks[_diskCount];
            disk.Domain = FindDomain(fields[OwnerField], _domainCount);
            disk.Backend = FindDomain(fields[BackendField], _domainCount);
            if (disk.Domain < 0 || disk.Backend < 0) return ManifestProblem.UnknownDomain;
            problem = ReadVdev(fields[VdevField], out disk.Vdev)
                .Or(ReadAccess(fields[AccessField], out disk.Writable))
                .Or(ReadNumber(fields[TargetField], 0, ManifestLimits.MaxPciDevicesPerDomain - 1, out disk.Target))
                .Or(ReadSectors(fields[StartField], out disk.StartSector))
                .Or(ReadSectors(fields[SectorsField], out disk.Sectors));
            if (problem != ManifestProblem.None) return problem;
            if (_diskCount > 0 && disk.Domain < Disks[_diskCount - 1].Domain) return ManifestProblem.OutOfOrder;
            ref ManifestDomain guest = ref Domains[disk.Domain];
            ManifestDomain backend = Domains[disk.Backend];
            if (disk.Backend == disk.Domain || backend.PciCount == 0) return ManifestProblem.BadBackend;
            if (disk.Target >= backend.PciCount) return ManifestProblem.NoSuchTarget;
            if ((disk.Sectors == 0 && disk.StartSector != 0) || disk.StartSector + disk.Sectors > ManifestLimits.MaxDiskSectors) return ManifestProblem.BadRange;
            if (guest.DiskCount == ManifestLimits.MaxDisksPerDomain) return ManifestProblem.TooManyDisks;
            for (int i = guest.FirstDisk; i < guest.FirstDisk + guest.DiskCount; i++)
            {
                if (Disks[i].Vdev == disk.Vdev) return ManifestProblem.DuplicateVdev;
            }
            for (int i = 0; i < _diskCount; i++)
            {
                if (Overlap(Disks[i], disk)) return ManifestProblem.DiskOverlap;
            }
            if (guest.DiskCount == 0) guest.FirstDisk = _diskCount;
            guest.DiskCount++;
            _diskCount++;
            return ManifestProblem.None;
        }

        /// <summary>Two disks on the same sectors, one of them writable: a guest could change what another reads.</summary>
        private static bool Overlap(ManifestDisk a, ManifestDisk b)
        {
            if (a.Backend != b.Backend || a.Target != b.Target || !(a.Writable || b.Writable)) return false;
            long aEnd = a.Sectors == 0 ? long.MaxValue : a.StartSector + a.Sectors;
            long bEnd = b.Sectors == 0 ? long.MaxValue : b.StartSector + b.Sectors;
            return a.StartSector < bEnd && b.StartSector < aEnd;
        }

        private static ManifestProblem ReadNumber(ReadOnlySpan<byte> text, int min, int max, out int value)
        {
            ManifestProblem problem = ReadDecimal(text, MaxDigits, out long number);
            value = (int)number;
            if (problem != ManifestProblem.None) return problem;
            return value >= min && value <= max ? ManifestProblem.None : ManifestProblem.OutOfRange;
        }

        private static ManifestProblem ReadSectors(ReadOnlySpan<byte> text, out long value)
        {
            ManifestProblem problem = ReadDecimal(text, MaxSectorDigits, out value);
            if (problem != ManifestProblem.None) return problem;
            return value <= ManifestLimits.MaxDiskSectors ? ManifestProblem.None : ManifestProblem.BadRange;
        }

        private static ManifestProblem ReadDecimal(ReadOnlySpan<byte> text, int maxDigits, out long value)
        {
            value = 0;
            if (text.Length == 0 || text.Length > maxDigits || (text[0] == (byte)'0' && text.Length > 1)) return ManifestProblem.BadNumber;
            for (int i = 0; i < text.Length; i++)
            {
                if (text[i] < (byte)'0' || text[i] > (byte)'9') return ManifestProblem.BadNumber;
                value = value * 10 + (text[i] - '0');
            }
            return ManifestProblem.None;
        }

        private static ManifestProblem ReadName(ReadOnlySpan<byte> text, out string name)
        {
            name = null;
            if (text.Length == 0 || text.Length > ManifestLimits.MaxNameBytes) return ManifestProblem.BadName;
            for (int i = 0; i < text.Length; i++)
            {
                byte c = text[i];
                if (!((c >= (byte)'a' && c <= (byte)'z') || (c >= (byte)'0' && c <= (byte)'9') || c == (byte)'-')) return ManifestProblem.BadName;
            }
            if (Equal(text, "dom0"u8) || Equal(text, "control"u8)) return ManifestProblem.ReservedName;
            name = Ascii(text);
            return ManifestProblem.None;
        }

        private static ManifestProblem ReadAction(ReadOnlySpan<byte> text, bool restartAllowed, out DomainAction action)
        {
            action = DomainAction.Destroy;
            if (Equal(text, "destroy"u8)) return ManifestProblem.None;
            if (!restartAllowed || !Equal(text, "restart"u8)) return ManifestProblem.BadAction;
            action = DomainAction.Restart;
            return ManifestProblem.None;
        }

        /// <summary>xvd and one letter: xl.cfg's Xen virtual disk names, the only kind a PV guest has.</summary>
        private static ManifestProblem ReadVdev(ReadOnlySpan<byte> text, out int vdev)
        {
            vdev = 0;
            if (text.Length != 4 || !Equal(text.Slice(0, 3), "xvd"u8) || text[3] < (byte)'a' || text[3] > (byte)'z') return ManifestProblem.BadVdev;
            vdev = text[3] - 'a';
            return ManifestProblem.None;
        }

        private static ManifestProblem ReadAccess(ReadOnlySpan<byte> text, out bool writable)
        {
            writable = Equal(text, "rw"u8);
            return writable || Equal(text, "ro"u8) ? ManifestProblem.None : ManifestProblem.BadAccess;
        }

        private static ManifestProblem ReadCommandLine(ReadOnlySpan<byte> text, out string commandLine)
        {
            commandLine = null;
            Span<char> decoded = stackalloc char[ManifestLimits.MaxCommandLineBytes];
            int length = 0;
            for (int i = 0; i < text.Length; i++)
            {
                int c = text[i];
                if (c == '%')
                {
                    if (i + 2 >= text.Length) return ManifestProblem.BadCommandLine;
                    int high = HexDigit(text[i + 1]), low = HexDigit(text[i + 2]);
                    if (high < 0 || low < 0) return ManifestProblem.BadCommandLine;
                    c = high * 16 + low;
                    if (c < 0x20 || c > 0x7E) return ManifestProblem.BadCommandLine;
                    i += 2;
                }
                if (length == decoded.Length) return ManifestProblem.BadCommandLine;
                decoded[length++] = (char)c;
            }
            commandLine = new string(decoded.Slice(0, length));
            return ManifestProblem.None;
        }

        private static int HexDigit(byte c)
        {
            if (c >= (byte)'0' && c <= (byte)'9') return c - '0';
            if (c >= (byte)'a' && c <= (byte)'f') return c - 'a' + 10;
            if (c >= (byte)'A' && c <= (byte)'F') return c - 'A' + 10;
            return -1;
        }

        /// <summary>The index of the domain of that name among the first count, or -1.</summary>
        private int FindDomain(ReadOnlySpan<byte> name, int count)
        {
            for (int i = 0; i < count; i++)
            {
                string known = Domains[i].Name;
                if (known.Length != name.Length) continue;
                int at = 0;
                while (at < name.Length && known[at] == name[at]) at++;
                if (at == name.Length) return i;
            }
            return -1;
        }

        /// <summary>Lines of a record, up to one more than allowed, so its array is allocated once and exactly.</summary>
        private static int CountLines(ReadOnlySpan<byte> text, ReadOnlySpan<byte> record, int limit)
        {
            int count = 0, start = 0;
            while (start < text.Length && count <= limit)
            {
                int end = start;
                while (end < text.Length && text[end] != (byte)'\n') end++;
                if (StartsWithWord(text.Slice(start, end - start), record)) count++;
                start = end + 1;
            }
            return Math.Min(count, limit);
        }

        /// <summary>The line is the word alone or the word, a space and more.</summary>
        private static bool StartsWithWord(ReadOnlySpan<byte> line, ReadOnlySpan<byte> word) =>
            line.Length >= word.Length && Equal(line.Slice(0, word.Length), word) && (line.Length == word.Length || line[word.Length] == (byte)' ');

        private static bool Equal(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
        {
            if (a.Length != b.Length) return false;
            for (int i = 0; i < a.Length; i++)
            {
                if (a[i] != b[i]) return false;
            }
            return true;
        }

        /// <summary>Bytes already checked to be ASCII, as a string.</summary>
        private static string Ascii(ReadOnlySpan<byte> text)
        {
            Span<char> chars = stackalloc char[ManifestLimits.MaxNameBytes];
            for (int i = 0; i < text.Length; i++) chars[i] = (char)text[i];
            return new string(chars.Slice(0, text.Length));
        }

        /// <summary>Splits the text into lines, refusing long, unterminated or non-ASCII ones.</summary>
        private ref struct LineReader
        {
            private readonly ReadOnlySpan<byte> _text;
            private int _offset;

            /// <summary>The 1-based number of the line last returned (or of the one that was refused).</summary>
            public int Number;

            public LineReader(ReadOnlySpan<byte> text)
            {
                _text = text;
                _offset = 0;
                Number = 0;
            }

            /// <summary>The next line without its LF; MissingEnd when the text is used up (or only padding is left).</summary>
            public ManifestProblem Next(out ReadOnlySpan<byte> line)
            {
                line = default;
                Number++;
                if (_offset == _text.Length || _text[_offset] == 0) return ManifestProblem.MissingEnd;
                int end = _offset;
                while (true)
                {
                    if (end - _offset == ManifestLimits.MaxLineBytes) return ManifestProblem.LineTooLong;
                    if (end == _text.Length) return ManifestProblem.UnterminatedLine;
                    byte c = _text[end];
                    if (c == (byte)'\n') break;
                    if (c < 0x20 || c > 0x7E) return ManifestProblem.BadCharacter;
                    end++;
                }
                line = _text.Slice(_offset, end - _offset);
                _offset = end + 1;
                return ManifestProblem.None;
            }

            public bool RestIsPadding()
            {
                for (int i = _offset; i < _text.Length; i++)
                {
                    if (_text[i] != 0) return false;
                }
                return true;
            }
        }

        /// <summary>
        /// A record's " key=value key=value" fields. The record's keys are given as one space-separated list;
        /// each value is then found by its key's index in that list, so every record shares one splitter.
        /// </summary>
        private ref struct Fields
        {
            private readonly ReadOnlySpan<byte> _line;
            private readonly Span<int> _start;
            private readonly Span<int> _length;

            /// <summary>start and length hold a value's place for each key, MaxFields of them.</summary>
            public Fields(ReadOnlySpan<byte> line, Span<int> start, Span<int> length)
            {
                _line = line;
                _start = start;
                _length = length;
            }

            public ReadOnlySpan<byte> this[int field] => _line.Slice(_start[field], _length[field]);

            /// <summary>Splits the line, which must hold every one of keys exactly once and nothing else.</summary>
            public ManifestProblem Split(ReadOnlySpan<byte> keys)
            {
                int seen = 0, offset = 0;
                while (offset < _line.Length)
                {
                    if (_line[offset] != (byte)' ') return ManifestProblem.MalformedField;
                    int start = offset + 1, equals = -1, end = start;
                    while (end < _line.Length && _line[end] != (byte)' ')
                    {
                        if (equals < 0 && _line[end] == (byte)'=') equals = end;
                        end++;
                    }
                    if (equals <= start) return ManifestProblem.MalformedField;
                    int field = KeyIndex(keys, _line.Slice(start, equals - start), out _);
                    if (field < 0) return ManifestProblem.UnknownKey;
                    if ((seen & (1 << field)) != 0) return ManifestProblem.RepeatedKey;
                    seen |= 1 << field;
                    _start[field] = equals + 1;
                    _length[field] = end - equals - 1;
                    offset = end;
                }
                KeyIndex(keys, default, out int count);
                return seen == (1 << count) - 1 ? ManifestProblem.None : ManifestProblem.MissingKey;
            }

            /// <summary>The index of key among the space-separated keys, or -1; count is how many keys there are.</summary>
            private static int KeyIndex(ReadOnlySpan<byte> keys, ReadOnlySpan<byte> key, out int count)
            {
                int found = -1, start = 0;
                count = 0;
                for (int i = 0; i <= keys.Length; i++)
                {
                    if (i < keys.Length && keys[i] != (byte)' ') continue;
                    if (Equal(keys.Slice(start, i - start), key)) found = count;
                    count++;
                    start = i + 1;
                }
                return found;
            }
        }
    }

    internal static class ManifestProblems
    {
        /// <summary>The first problem of a chain of reads, so a record's fields are read in one expression.</summary>
        public static ManifestProblem Or(this ManifestProblem first, ManifestProblem next) =>
            first != ManifestProblem.None ? first : next;
    }
}

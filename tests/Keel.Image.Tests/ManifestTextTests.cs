using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Keel.Runtime;
using RuntimeManifest = Keel.Runtime.Manifest;

namespace Keel.Image.Tests;

/// <summary>
/// The text module between the image tool and the control domain: the writer's output read back by the
/// runtime's reader (the very code the control domain runs, built for the host), and the reader facing
/// modules nobody wrote with care.
/// </summary>
public sealed class ManifestTextTests
{
    private static readonly KernelImage TestDomain = new("test-domain", "/k/test-domain.elf");
    private static readonly KernelImage Other = new("other", "/k/other.elf");
    private static readonly KernelImage Mine = new("kernels/mine.elf", "/m/kernels/mine.elf");

    private const string Header = "keel-manifest 2\nsystem exit_when_done=0\n";
    private const string HelloLine =
        "domain name=hello module=1 upgrade_module=0 memory=16 weight=256 warp=0 warp_limit=0 unwarp=0 on_crash=destroy on_poweroff=destroy cmdline=hello";

    private static ManifestError Read(string text, out RuntimeManifest manifest) => RuntimeManifest.TryRead(Encoding.ASCII.GetBytes(text), out manifest);

    private static ManifestError Refusal(string text)
    {
        var error = Read(text, out var manifest);
        Assert.True(error.IsError, "the reader accepted it");
        Assert.Null(manifest);
        return error;
    }

    /// <summary>Everything the control domain will act on, as the writer meant it and as the reader found it;
    /// devices and disks as text, the reader's through each domain's run of its arrays.</summary>
    private static IEnumerable<object> Written(Manifest manifest) =>
        manifest.Domains.Select(d => (object)(d.Name, manifest.ModuleOf(d), manifest.UpgradeModuleOf(d), d.MemoryMiB, d.Weight, d.WarpMs, d.WarpLimitMs, d.UnwarpMs,
            d.OnCrash, d.OnPoweroff, d.CommandLine,
            string.Join(" ", d.Pci.Select(p => p.Sbdf)),
            string.Join(" ", d.Disks.Select(k => Disk(k.Backend, k.Vdev, k.Writable, k.Target, k.StartSector, k.Sectors)))));

    private static IEnumerable<object> Read(RuntimeManifest manifest) =>
        manifest.Domains.Select((d, i) => (object)(d.Name, d.Module, d.UpgradeModule, d.MemoryMiB, d.Weight, d.WarpMs, d.WarpLimitMs, d.UnwarpMs,
            d.OnCrash, d.OnPoweroff, d.CommandLine,
            string.Join(" ", manifest.PciDevices.Skip(d.FirstPci).Take(d.PciCount).Select(p => p.Domain == i ? $"{p.Sbdf}" : "another domain's")),
            string.Join(" ", manifest.Disks.Skip(d.FirstDisk).Take(d.DiskCount)
                .Select(k => k.Domain == i ? Disk(manifest.Domains[k.Backend].Name, k.Vdev, k.Writable, k.Target, k.StartSector, k.Sectors) : "another domain's"))));

    private static string Disk(string backend, int vdev, bool writable, int target, long start, long sectors) =>
        $"{backend}:{vdev}:{writable}:{target}:{start}+{sectors}";

    /// <summary>A driver domain with one device (00:04.0) serving hello one writable disk, lines 3 to 7.</summary>
    private const string DriverLines =
        "domain name=blk module=2 upgrade_module=3 memory=16 weight=256 warp=0 warp_limit=0 unwarp=0 on_crash=restart on_poweroff=destroy cmdline=\n" +
        HelloLine + "\n" +
        "pci domain=blk sbdf=32\n" +
        "disk domain=hello backend=blk vdev=xvda access=rw target=0 start=0 sectors=0\n";

    private const string DriverModule = Header + DriverLines + "end domains=2 pci=1 disks=1\n";

    private static readonly KernelImage Blkback = new("blkback", "/k/blkback.elf");
    private static readonly KernelImage Upgrade = new("blkback-2", "/k/blkback-2.elf");

    private static RuntimeManifest RoundTrip(Manifest manifest)
    {
        var error = Read(ManifestText.Write(manifest), out var read);
        Assert.False(error.IsError, $"line {error.Line}: {RuntimeManifest.Describe(error.Problem)}");
        return read;
    }

    [Fact]
    public void The_hello_manifest_is_written_as_four_lines_with_every_default_spelt_out_and_no_devices_or_disks()
    {
        var manifest = new Manifest(false, null, [new DomainSpec("hello", TestDomain, 16, "hello")]);
        Assert.Equal(Header + HelloLine + "\nend domains=1 pci=0 disks=0\n", ManifestText.Write(manifest));
    }

    [Fact]
    public void Spaces_and_percent_signs_in_a_command_line_are_encoded_and_come_back_decoded()
    {
        var manifest = new Manifest(true, null, [new DomainSpec("hello", TestDomain, 16, " a  b%20c% ")]);
        string text = ManifestText.Write(manifest);
        Assert.Contains("cmdline=%20a%20%20b%2520c%25%20\n", text);
        Assert.Equal(" a  b%20c% ", Assert.Single(RoundTrip(manifest).Domains).CommandLine);
    }

    [Fact]
    public void Written_domains_read_back_the_same_with_module_numbers_counting_from_the_manifest()
    {
        var manifest = new Manifest(true, 512, [
            new DomainSpec("a", Other, 8, ""),
            new DomainSpec("b", Mine, 65536, "x=1 y", 65535, 1000000, 1000000, 1000000, DomainAction.Restart),
            new DomainSpec("c", Other, 4, "~", 1, 5, 0, 7),
            new DomainSpec("d", TestDomain, 16, "hello"),
        ]);
        var read = RoundTrip(manifest);
        Assert.True(read.ExitWhenDone);
        Assert.Equal(Written(manifest), Read(read));
        Assert.Equal([1, 2, 1, 3], read.Domains.Select(d => d.Module));
    }

    [Fact]
    public void The_largest_manifest_1024_domains_with_the_longest_encoded_command_lines_survives_the_round_trip()
    {
        // 128 command lines of 1023 bytes use up the total allowed; the rest of the domains have short ones.
        var domains = Enumerable.Range(0, ManifestLimits.MaxDomains)
            .Select(i => new DomainSpec($"{new string('d', 27)}-{i}", i % 2 == 0 ? TestDomain : Other, 65536,
                i < 128 ? new string(i % 2 == 0 ? ' ' : '%', 1023) : "", 65535, 1000000, 1000000, 1000000))
            .ToList();
        var manifest = new Manifest(false, null, domains);
        Assert.Equal(Written(manifest), Read(RoundTrip(manifest)));
    }

    [Fact]
    public void The_writer_refuses_a_model_the_control_domain_would_refuse()
    {
        var outOfRange = new Manifest(false, null, [new DomainSpec("hello", TestDomain, 3, "")]);
        Assert.Contains("outside the range", Assert.Throws<BuildException>(() => ManifestText.Write(outOfRange)).Message);
        var twice = new Manifest(false, null, [new DomainSpec("hello", TestDomain, 16, ""), new DomainSpec("hello", Other, 16, "")]);
        Assert.Contains("same name", Assert.Throws<BuildException>(() => ManifestText.Write(twice)).Message);
        var control = new Manifest(false, null, [new DomainSpec("hello", TestDomain, 16, "tab\there")]);
        Assert.Contains("U+0009", Assert.Throws<BuildException>(() => ManifestText.Write(control)).Message);
    }

    [Fact]
    public void The_reader_accepts_fields_in_any_order_and_zero_padding_after_the_end_line()
    {
        string reordered = "domain cmdline=a%2Fb on_poweroff=destroy on_crash=restart unwarp=3 warp_limit=2 warp=1 weight=9 memory=4 upgrade_module=8 module=7 name=x";
        Assert.False(Read(Header + reordered + "\nend domains=1 pci=0 disks=0\n\0\0\0\0", out var manifest).IsError);
        var domain = Assert.Single(manifest.Domains);
        Assert.Equal(("x", 7, 8, 4, 9, 1, 2, 3, DomainAction.Restart, "a/b"),
            (domain.Name, domain.Module, domain.UpgradeModule, domain.MemoryMiB, domain.Weight, domain.WarpMs, domain.WarpLimitMs, domain.UnwarpMs, domain.OnCrash, domain.CommandLine));
        Assert.False(Read(Header.Replace("=0", "=1") + "end domains=0 pci=0 disks=0\n", out var empty).IsError);
        Assert.True(empty.ExitWhenDone);
        Assert.Empty(empty.Domains);
    }

    [Theory]
    [InlineData("", ManifestProblem.BadHeader, 1)]
    [InlineData("keel-manifest 1\nsystem exit_when_done=0\nend domains=0\n", ManifestProblem.BadHeader, 1)]
    [InlineData("keel-manifest 2\n", ManifestProblem.MissingSystem, 2)]
    [InlineData("keel-manifest 2\nsystem\nend domains=0 pci=0 disks=0\n", ManifestProblem.MissingKey, 2)]
    [InlineData("keel-manifest 2\nsystem exit_when_done=2\nend domains=0 pci=0 disks=0\n", ManifestProblem.OutOfRange, 2)]
    [InlineData("keel-manifest 2\nsystem exit_when_done=0 exit_when_done=0\nend domains=0 pci=0 disks=0\n", ManifestProblem.RepeatedKey, 2)]
    [InlineData("keel-manifest 2\r\nsystem exit_when_done=0\nend domains=0 pci=0 disks=0\n", ManifestProblem.BadCharacter, 1)]
    [InlineData(Header + "end domains=0 pci=0 disks=0", ManifestProblem.UnterminatedLine, 3)]
    [InlineData(Header, ManifestProblem.MissingEnd, 3)]
    [InlineData(Header + HelloLine + "\n", ManifestProblem.MissingEnd, 4)]
    [InlineData(Header + HelloLine + "\nend domains=2 pci=0 disks=0\n", ManifestProblem.CountMismatch, 4)]
    [InlineData(Header + "end domains=0 pci=0 disks=0\nend domains=0 pci=0 disks=0\n", ManifestProblem.TextAfterEnd, 4)]
    [InlineData(Header + "end domains=0 pci=0 disks=0\n\0\0x", ManifestProblem.TextAfterEnd, 4)]
    [InlineData(Header + "domain\nend domains=1 pci=0 disks=0\n", ManifestProblem.MissingKey, 3)]
    [InlineData(Header + "vm name=x\nend domains=0 pci=0 disks=0\n", ManifestProblem.UnknownRecord, 3)]
    [InlineData(Header + "domainname=x\nend domains=0 pci=0 disks=0\n", ManifestProblem.UnknownRecord, 3)]
    public void The_reader_refuses_a_module_whose_lines_are_not_the_format(string text, ManifestProblem problem, int line)
    {
        var error = Refusal(text);
        Assert.Equal((problem, line), (error.Problem, error.Line));
    }

    [Theory]
    [InlineData("name=hello", "name=hello  ", ManifestProblem.MalformedField)]
    [InlineData("name=hello", "name=hello weight=1", ManifestProblem.RepeatedKey)]
    [InlineData("name=hello", "=hello", ManifestProblem.MalformedField)]
    [InlineData("name=hello", "nameless", ManifestProblem.MalformedField)]
    [InlineData("name=hello", "colour=red", ManifestProblem.UnknownKey)]
    [InlineData(" weight=256", "", ManifestProblem.MissingKey)]
    [InlineData("name=hello", "name=Hello", ManifestProblem.BadName)]
    [InlineData("name=hello", "name=", ManifestProblem.BadName)]
    [InlineData("name=hello", "name=a23456789012345678901234567890123", ManifestProblem.BadName)]
    [InlineData("name=hello", "name=control", ManifestProblem.ReservedName)]
    [InlineData("name=hello", "name=dom0", ManifestProblem.ReservedName)]
    [InlineData("memory=16", "memory=016", ManifestProblem.BadNumber)]
    [InlineData("memory=16", "memory=-16", ManifestProblem.BadNumber)]
    [InlineData("memory=16", "memory=12345678", ManifestProblem.BadNumber)]
    [InlineData("memory=16", "memory=", ManifestProblem.BadNumber)]
    [InlineData("memory=16", "memory=3", ManifestProblem.OutOfRange)]
    [InlineData("memory=16", "memory=65537", ManifestProblem.OutOfRange)]
    [InlineData("module=1", "module=0", ManifestProblem.OutOfRange)]
    [InlineData("module=1", "module=2049", ManifestProblem.OutOfRange)]
    [InlineData("upgrade_module=0", "upgrade_module=2049", ManifestProblem.OutOfRange)]
    [InlineData("upgrade_module=0", "upgrade_module=", ManifestProblem.BadNumber)]
    [InlineData("weight=256", "weight=0", ManifestProblem.OutOfRange)]
    [InlineData("warp=0", "warp=1000001", ManifestProblem.OutOfRange)]
    [InlineData("warp_limit=0", "warp_limit=5", ManifestProblem.BadWarp)]
    [InlineData("unwarp=0", "unwarp=5", ManifestProblem.BadWarp)]
    [InlineData("warp=0 warp_limit=0", "warp=5 warp_limit=5", ManifestProblem.BadWarp)]
    [InlineData("on_crash=destroy", "on_crash=reboot", ManifestProblem.BadAction)]
    [InlineData("on_poweroff=destroy", "on_poweroff=restart", ManifestProblem.BadAction)]
    [InlineData("cmdline=hello", "cmdline=%", ManifestProblem.BadCommandLine)]
    [InlineData("cmdline=hello", "cmdline=%2", ManifestProblem.BadCommandLine)]
    [InlineData("cmdline=hello", "cmdline=%zz", ManifestProblem.BadCommandLine)]
    [InlineData("cmdline=hello", "cmdline=%0A", ManifestProblem.BadCommandLine)]
    [InlineData("cmdline=hello", "cmdline=%7F", ManifestProblem.BadCommandLine)]
    public void The_reader_refuses_a_domain_line_with_a_bad_field_naming_its_line(string field, string replacement, ManifestProblem problem)
    {
        var error = Refusal(Header + HelloLine.Replace(field, replacement) + "\nend domains=1 pci=0 disks=0\n");
        Assert.Equal((problem, 3), (error.Problem, error.Line));
    }

    [Fact]
    public void The_reader_refuses_over_long_lines_command_lines_and_domain_lists()
    {
        var longLine = Refusal(Header + HelloLine + new string('x', ManifestLimits.MaxLineBytes) + "\nend domains=1 pci=0 disks=0\n");
        Assert.Equal((ManifestProblem.LineTooLong, 3), (longLine.Problem, longLine.Line));
        var longCommandLine = Refusal(Header + HelloLine.Replace("cmdline=hello", "cmdline=" + new string('x', 1024)) + "\nend domains=1 pci=0 disks=0\n");
        Assert.Equal(ManifestProblem.BadCommandLine, longCommandLine.Problem);
        var full = Enumerable.Range(0, 129).Select(i => HelloLine.Replace("name=hello", $"name=d{i}").Replace("cmdline=hello", "cmdline=" + new string('x', 1017)));
        var tooMuch = Refusal(Header + string.Join("\n", full) + "\nend domains=129 pci=0 disks=0\n");
        Assert.Equal((ManifestProblem.CommandLinesTooLong, 131), (tooMuch.Problem, tooMuch.Line));
        var lines = Enumerable.Range(0, 1025).Select(i => HelloLine.Replace("name=hello", $"name=d{i}"));
        var tooMany = Refusal(Header + string.Join("\n", lines) + "\nend domains=1025 pci=0 disks=0\n");
        Assert.Equal((ManifestProblem.TooManyDomains, 1027), (tooMany.Problem, tooMany.Line));
        var twice = Refusal(Header + HelloLine + "\n" + HelloLine.Replace("module=1", "module=2") + "\nend domains=2 pci=0 disks=0\n");
        Assert.Equal((ManifestProblem.DuplicateName, 4), (twice.Problem, twice.Line));
    }

    [Fact]
    public void Devices_disks_and_upgrade_kernels_are_written_after_the_domains_in_domain_order_and_read_back_the_same()
    {
        var manifest = new Manifest(false, null, [
            new DomainSpec("blk", Blkback, 32, "", OnCrash: DomainAction.Restart, KernelUpgrade: Upgrade, Pci: [new(0, 4, 0), new(0xff, 0x1f, 7)]),
            new DomainSpec("guest", TestDomain, 16, "g", Disks: [new("blk", 0, true, 0), new("blk", 1, false, 1, 2048, 65536)]),
            new DomainSpec("other", Other, 16, "", Disks: [new("blk", 25, true, 1, 0, 2048)]),
        ]);
        string text = ManifestText.Write(manifest);
        Assert.StartsWith(Header + "domain name=blk module=1 upgrade_module=2 memory=32 ", text);
        Assert.EndsWith(
            "pci domain=blk sbdf=32\npci domain=blk sbdf=65535\n" +
            "disk domain=guest backend=blk vdev=xvda access=rw target=0 start=0 sectors=0\n" +
            "disk domain=guest backend=blk vdev=xvdb access=ro target=1 start=2048 sectors=65536\n" +
            "disk domain=other backend=blk vdev=xvdz access=rw target=1 start=0 sectors=2048\n" +
            "end domains=3 pci=2 disks=3\n", text);
        var read = RoundTrip(manifest);
        Assert.Equal(Written(manifest), Read(read));
        Assert.Equal([(1, 2), (3, 0), (4, 0)], read.Domains.Select(d => (d.Module, d.UpgradeModule)));
        Assert.Equal([(0, 32), (0, 65535)], read.PciDevices.Select(p => (p.Domain, p.Sbdf)));
        Assert.Equal([(1, 0), (1, 0), (2, 0)], read.Disks.Select(k => (k.Domain, k.Backend)));
    }

    [Theory]
    [InlineData("pci domain=blk", "pci domain=nobody", ManifestProblem.UnknownDomain, 5)]
    [InlineData("pci domain=blk", "pci domain=BLK", ManifestProblem.UnknownDomain, 5)]
    [InlineData("sbdf=32", "sbdf=65536", ManifestProblem.OutOfRange, 5)]
    [InlineData("sbdf=32", "sbdf=0x20", ManifestProblem.BadNumber, 5)]
    [InlineData("sbdf=32", "sbdf=32 permissive=1", ManifestProblem.UnknownKey, 5)]
    [InlineData(" sbdf=32", "", ManifestProblem.MissingKey, 5)]
    [InlineData("disk domain=hello", "disk domain=nobody", ManifestProblem.UnknownDomain, 6)]
    [InlineData("backend=blk", "backend=nobody", ManifestProblem.UnknownDomain, 6)]
    [InlineData("backend=blk", "backend=hello", ManifestProblem.BadBackend, 6)]
    [InlineData("disk domain=hello backend=blk", "disk domain=blk backend=hello", ManifestProblem.BadBackend, 6)]
    [InlineData("vdev=xvda", "vdev=hda", ManifestProblem.BadVdev, 6)]
    [InlineData("vdev=xvda", "vdev=xvd", ManifestProblem.BadVdev, 6)]
    [InlineData("vdev=xvda", "vdev=xvdA", ManifestProblem.BadVdev, 6)]
    [InlineData("vdev=xvda", "vdev=xvdaa", ManifestProblem.BadVdev, 6)]
    [InlineData("access=rw", "access=w", ManifestProblem.BadAccess, 6)]
    [InlineData("target=0", "target=1", ManifestProblem.NoSuchTarget, 6)]
    [InlineData("target=0", "target=8", ManifestProblem.OutOfRange, 6)]
    [InlineData("start=0", "start=5", ManifestProblem.BadRange, 6)]
    [InlineData("sectors=0", "sectors=1099511627777", ManifestProblem.BadRange, 6)]
    [InlineData("start=0 sectors=0", "start=1099511627775 sectors=2", ManifestProblem.BadRange, 6)]
    [InlineData("sectors=0", "sectors=12345678901234", ManifestProblem.BadNumber, 6)]
    [InlineData("sectors=0", "sectors=-1", ManifestProblem.BadNumber, 6)]
    [InlineData("upgrade_module=3", "upgrade_module=2049", ManifestProblem.OutOfRange, 3)]
    [InlineData("end domains=2 pci=1", "end domains=2 pci=0", ManifestProblem.CountMismatch, 7)]
    [InlineData("disks=1", "disks=2", ManifestProblem.CountMismatch, 7)]
    [InlineData("end domains=2 pci=1", "end domains=2", ManifestProblem.MissingKey, 7)]
    [InlineData("pci=1 disks=1", "pci=1 disks=1025", ManifestProblem.OutOfRange, 7)]
    public void The_reader_refuses_a_device_or_disk_line_with_a_bad_field_naming_its_line(string field, string replacement, ManifestProblem problem, int line)
    {
        Assert.False(Read(DriverModule, out _).IsError);
        var error = Refusal(DriverModule.Replace(field, replacement));
        Assert.Equal((problem, line), (error.Problem, error.Line));
    }

    [Fact]
    public void The_reader_refuses_lines_out_of_order_and_devices_or_disks_not_grouped_by_domain()
    {
        string[] lines = DriverLines.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string Module(params string[] body) => Header + string.Join("", body.Select(l => l + "\n")) + "end domains=2 pci=1 disks=1\n";
        var domainAfterPci = Refusal(Module(lines[0], lines[2], lines[1], lines[3]));
        Assert.Equal((ManifestProblem.OutOfOrder, 5), (domainAfterPci.Problem, domainAfterPci.Line));
        var pciAfterDisk = Refusal(Module(lines[0], lines[1], lines[2], lines[3], "pci domain=blk sbdf=33"));
        Assert.Equal((ManifestProblem.OutOfOrder, 7), (pciAfterDisk.Problem, pciAfterDisk.Line));
        var diskBeforeItsBackendsDevice = Refusal(Module(lines[0], lines[1], lines[3], lines[2]));
        Assert.Equal((ManifestProblem.BadBackend, 5), (diskBeforeItsBackendsDevice.Problem, diskBeforeItsBackendsDevice.Line));
        var pciBeforeItsDomain = Refusal(Header + lines[2] + "\n" + lines[0] + "\nend domains=1 pci=1 disks=0\n");
        Assert.Equal((ManifestProblem.UnknownDomain, 3), (pciBeforeItsDomain.Problem, pciBeforeItsDomain.Line));

        string second = lines[0].Replace("name=blk", "name=blk2").Replace("module=2", "module=4");
        string ungrouped = Header + lines[0] + "\n" + second + "\n" + "pci domain=blk sbdf=1\npci domain=blk2 sbdf=2\npci domain=blk sbdf=3\nend domains=2 pci=3 disks=0\n";
        var pci = Refusal(ungrouped);
        Assert.Equal((ManifestProblem.OutOfOrder, 7), (pci.Problem, pci.Line));
        string disks = Header + lines[0] + "\n" + HelloLine + "\n" + HelloLine.Replace("name=hello", "name=hi") + "\npci domain=blk sbdf=1\n" +
            "disk domain=hi backend=blk vdev=xvda access=ro target=0 start=0 sectors=0\n" +
            "disk domain=hello backend=blk vdev=xvda access=ro target=0 start=0 sectors=0\nend domains=3 pci=1 disks=2\n";
        var disk = Refusal(disks);
        Assert.Equal((ManifestProblem.OutOfOrder, 8), (disk.Problem, disk.Line));
    }

    [Fact]
    public void The_reader_refuses_a_device_given_twice_or_beyond_the_limits()
    {
        string blk = DriverLines.Split('\n')[0];
        string Driver(int i) => blk.Replace("name=blk", $"name=blk{i}");
        var twice = Refusal(Header + Driver(0) + "\n" + Driver(1) + "\npci domain=blk0 sbdf=7\npci domain=blk1 sbdf=7\nend domains=2 pci=2 disks=0\n");
        Assert.Equal((ManifestProblem.DuplicateDevice, 6), (twice.Problem, twice.Line));

        var nine = Enumerable.Range(0, 9).Select(i => $"pci domain=blk0 sbdf={i}\n");
        var perDomain = Refusal(Header + Driver(0) + "\n" + string.Concat(nine) + "end domains=1 pci=9 disks=0\n");
        Assert.Equal((ManifestProblem.TooManyDevices, 12), (perDomain.Problem, perDomain.Line));

        var drivers = Enumerable.Range(0, 33).Select(i => Driver(i) + "\n");
        var devices = Enumerable.Range(0, 257).Select(i => $"pci domain=blk{i / 8} sbdf={i}\n");
        var inAll = Refusal(Header + string.Concat(drivers) + string.Concat(devices) + "end domains=33 pci=257 disks=0\n");
        Assert.Equal((ManifestProblem.TooManyDevices, 2 + 33 + 257), (inAll.Problem, inAll.Line));
    }

    [Fact]
    public void The_reader_refuses_a_vdev_used_twice_overlapping_writable_disks_and_disks_beyond_the_limits()
    {
        string head = DriverModule[..DriverModule.IndexOf("end ", StringComparison.Ordinal)];
        string Disk(string vdev, string access, long start, long sectors, string domain = "hello") =>
            $"disk domain={domain} backend=blk vdev={vdev} access={access} target=0 start={start} sectors={sectors}\n";
        string Module(string extra, int disks) => head + extra + $"end domains=2 pci=1 disks={disks}\n";

        var vdevTwice = Refusal(Module(Disk("xvda", "ro", 0, 0), 2));
        Assert.Equal((ManifestProblem.DuplicateVdev, 7), (vdevTwice.Problem, vdevTwice.Line));
        var readOnlyOnWritable = Refusal(Module(Disk("xvdb", "ro", 100, 1), 2));
        Assert.Equal((ManifestProblem.DiskOverlap, 7), (readOnlyOnWritable.Problem, readOnlyOnWritable.Line));

        string rangesOnly = head.Replace("start=0 sectors=0", "start=0 sectors=100");
        Assert.False(Read(rangesOnly + Disk("xvdb", "rw", 100, 100) + Disk("xvdc", "ro", 200, 50) + Disk("xvdd", "ro", 220, 1) + "end domains=2 pci=1 disks=4\n", out _).IsError);
        var touching = Refusal(rangesOnly + Disk("xvdb", "ro", 99, 2) + "end domains=2 pci=1 disks=2\n");
        Assert.Equal((ManifestProblem.DiskOverlap, 7), (touching.Problem, touching.Line));

        string readOnly = head.Replace("access=rw", "access=ro");
        var seventeen = Enumerable.Range(1, 16).Select(i => Disk($"xvd{(char)('a' + i)}", "ro", 0, 0));
        var perDomain = Refusal(readOnly + string.Concat(seventeen) + "end domains=2 pci=1 disks=17\n");
        Assert.Equal((ManifestProblem.TooManyDisks, 22), (perDomain.Problem, perDomain.Line));

        var guests = Enumerable.Range(0, 65).Select(g => HelloLine.Replace("name=hello", $"name=g{g}") + "\n");
        var disks = Enumerable.Range(0, 1025).Select(i => Disk($"xvd{(char)('a' + i % 16)}", "ro", 0, 0, $"g{i / 16}"));
        var inAll = Refusal(Header + DriverLines.Split('\n')[0] + "\n" + string.Concat(guests) + "pci domain=blk sbdf=32\n" + string.Concat(disks) + "end domains=66 pci=1 disks=1025\n");
        Assert.Equal((ManifestProblem.TooManyDisks, 2 + 66 + 1 + 1025), (inAll.Problem, inAll.Line));
    }

    [Fact]
    public void The_reader_refuses_an_over_long_disk_line_and_a_module_cut_anywhere()
    {
        var longLine = Refusal(DriverModule.Replace("sectors=0\n", "sectors=0" + new string(' ', ManifestLimits.MaxLineBytes) + "\n"));
        Assert.Equal((ManifestProblem.LineTooLong, 6), (longLine.Problem, longLine.Line));
        for (int length = 0; length < DriverModule.Length; length++) Refusal(DriverModule[..length]);
    }

    [Fact]
    public void Reading_a_manifest_at_every_limit_takes_under_512_KiB_of_heap()
    {
        // 1024 domains with 32-byte names, 128 full command lines, 32 driver domains of 8 devices and 64
        // guests of 16 read-only disks: the largest module the reader accepts.
        var domains = Enumerable.Range(0, ManifestLimits.MaxDomains).Select(i => new DomainSpec(
            $"{i:d4}-{new string('d', 27)}", i % 2 == 0 ? TestDomain : Other, 16, i < 128 ? new string('x', ManifestLimits.MaxCommandLineBytes) : "",
            Pci: i < 32 ? Enumerable.Range(0, 8).Select(k => new PciAddress(i, k, 0)).ToList() : null,
            Disks: i is >= 32 and < 96 ? Enumerable.Range(0, 16).Select(k => new DiskSpec($"{i % 32:d4}-{new string('d', 27)}", k, false, k % 8)).ToList() : null));
        byte[] text = Encoding.ASCII.GetBytes(ManifestText.Write(new Manifest(false, null, domains.ToList())));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = RuntimeManifest.TryRead(text, out var read);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.False(error.IsError, $"line {error.Line}: {RuntimeManifest.Describe(error.Problem)}");
        Assert.Equal((1024, 256, 1024), (read.Domains.Length, read.PciDevices.Length, read.Disks.Length));
        Assert.InRange(allocated, 0, 512 * 1024);
    }

    [Fact]
    public void Every_problem_has_a_sentence_of_its_own()
    {
        var problems = Enum.GetValues<ManifestProblem>();
        var sentences = problems.Select(RuntimeManifest.Describe).ToList();
        Assert.DoesNotContain("unknown problem", sentences);
        Assert.Equal(problems.Length, sentences.Distinct().Count());
    }

    /// <summary>Printable ASCII, often the characters the encoding treats specially, now and then at full length.</summary>
    private static Gen<string> CommandLines() =>
        from length in Gen.Frequency((4, Gen.Choose(0, 40)), (1, Gen.Choose(0, ManifestLimits.MaxCommandLineBytes)), (1, Gen.Constant(ManifestLimits.MaxCommandLineBytes)))
        from chars in Gen.Frequency((1, Gen.Elements(' ', '%', '=', '~', '!', '0')), (2, Gen.Choose(0x20, 0x7E).Select(c => (char)c))).ArrayOf(length)
        select new string(chars);

    private static Gen<DomainSpec> Domains() =>
        from length in Gen.Choose(1, ManifestLimits.MaxNameBytes)
        from name in Gen.Elements("abcdefghijklmnopqrstuvwxyz0123456789-".ToCharArray()).ArrayOf(length).Select(c => new string(c))
            .Where(n => n is not ("dom0" or "control"))
        from kernel in Gen.Elements(TestDomain, Other, Mine)
        from memory in Gen.Frequency((1, Gen.Elements(4, 65536)), (4, Gen.Choose(4, 65536)))
        from weight in Gen.Frequency((1, Gen.Elements(1, 256, 65535)), (4, Gen.Choose(1, 65535)))
        from warp in Gen.Frequency((1, Gen.Constant(0)), (2, Gen.Choose(1, ManifestLimits.MaxWarpMs)))
        from limit in warp == 0 ? Gen.Constant(0) : Gen.Choose(0, ManifestLimits.MaxWarpMs)
        from unwarp in warp == 0 ? Gen.Constant(0) : Gen.Choose(limit == 0 ? 0 : 1, ManifestLimits.MaxWarpMs)
        from onCrash in Gen.Elements(DomainAction.Destroy, DomainAction.Restart)
        from commandLine in CommandLines()
        from upgrade in Gen.Elements(null, TestDomain, Other, Mine, Blkback, Upgrade)
        select new DomainSpec(name, kernel, memory, commandLine, weight, warp, limit, unwarp, onCrash, KernelUpgrade: upgrade);

    private static Gen<PciAddress> PciAddresses() =>
        from bus in Gen.Frequency((1, Gen.Elements(0, 255)), (2, Gen.Choose(0, 255)))
        from device in Gen.Choose(0, 31)
        from function in Gen.Choose(0, 7)
        select new PciAddress(bus, device, function);

    /// <summary>Disks whose backend and guest are chosen later: small ranges that often meet, large ones, whole disks.</summary>
    private static Gen<DiskSpec> Disks() =>
        from vdev in Gen.Choose(0, 25)
        from writable in Gen.Elements(true, false)
        from target in Gen.Choose(0, ManifestLimits.MaxPciDevicesPerDomain - 1)
        from shape in Gen.Choose(0, 2)
        from start in shape == 1 ? Gen.Choose(0, 100).Select(n => (long)n) : Gen.Choose(0, (1 << 20) - 1).Select(n => (long)n << 20)
        from sectors in shape == 1 ? Gen.Choose(1, 100).Select(n => (long)n) : Gen.Choose(1, 1 << 20).Select(n => (long)n)
        select shape == 0 ? new DiskSpec("", vdev, writable, target) : new DiskSpec("", vdev, writable, target, start, sectors);

    private static Arbitrary<Manifest> Manifests() =>
        (from exit in Gen.Elements(true, false)
         from domains in Domains().ListOf()
         from backends in Gen.Choose(0, 3)
         from devices in PciAddresses().ListOf()
         from disks in Disks().ListOf()
         select Assemble(exit, domains.DistinctBy(d => d.Name).ToList(), backends, devices, disks)).ToArbitrary();

    /// <summary>
    /// A valid system from random parts: the first domains become driver domains holding distinct devices,
    /// each disk goes to one of the other domains, served by a driver domain from a target it has, and is
    /// dropped when its vdev is taken or it would share sectors writably with a disk kept before it.
    /// </summary>
    private static Manifest Assemble(bool exit, List<DomainSpec> domains, int backends, List<PciAddress> devices, List<DiskSpec> disks)
    {
        var distinct = devices.Distinct().ToList();
        backends = Math.Min(Math.Min(backends, domains.Count / 2), distinct.Count);
        for (int b = 0; b < backends; b++)
            domains[b] = domains[b] with { Pci = distinct.Where((_, i) => i % backends == b).Take(ManifestLimits.MaxPciDevicesPerDomain).ToList() };
        var kept = domains.Select(_ => new List<DiskSpec>()).ToList();
        for (int i = 0; backends > 0 && i < disks.Count; i++)
        {
            int guest = backends + i % (domains.Count - backends);
            DomainSpec backend = domains[i % backends];
            var disk = disks[i] with { Backend = backend.Name, Target = disks[i].Target % backend.Pci.Count };
            bool clashes = kept[guest].Any(k => k.Vdev == disk.Vdev) || kept.SelectMany(k => k).Any(k =>
                k.Backend == disk.Backend && k.Target == disk.Target && (k.Writable || disk.Writable) &&
                k.StartSector < disk.EndSector && disk.StartSector < k.EndSector);
            if (!clashes && kept[guest].Count < ManifestLimits.MaxDisksPerDomain) kept[guest].Add(disk);
        }
        return new Manifest(exit, null, domains.Select((d, i) => d with { Disks = kept[i] }).ToList());
    }

    [FsCheck.Xunit.Property(MaxTest = 300)]
    public Property Any_valid_model_survives_the_round_trip_through_the_control_domains_reader() =>
        Prop.ForAll(Manifests(), manifest =>
        {
            var error = Read(ManifestText.Write(manifest), out var read);
            return !error.IsError && read.ExitWhenDone == manifest.ExitWhenDone && Written(manifest).SequenceEqual(Read(read));
        });

    [FsCheck.Xunit.Property(MaxTest = 2000)]
    public Property Arbitrary_bytes_never_make_the_reader_throw_and_a_refusal_always_names_a_line() =>
        Prop.ForAll(ArbMap.Default.ArbFor<byte[]>(), bytes => Consistent(RuntimeManifest.TryRead(bytes, out var manifest), manifest));

    /// <summary>Random bytes are refused on line 1; damage to a good module, devices and disks included, reaches every later check.</summary>
    [FsCheck.Xunit.Property(MaxTest = 2000)]
    public Property A_damaged_good_module_never_makes_the_reader_throw() =>
        Prop.ForAll(Damage(), bytes => Consistent(RuntimeManifest.TryRead(bytes, out var manifest), manifest));

    private static bool Consistent(ManifestError error, RuntimeManifest manifest) =>
        error.IsError
            ? manifest is null && error.Line >= 1
            : manifest is not null && manifest.Domains.Length <= ManifestLimits.MaxDomains && manifest.Domains.All(d => d.Name is not null && d.CommandLine is not null) &&
              manifest.PciDevices.All(p => p.Domain >= 0 && p.Domain < manifest.Domains.Length) &&
              manifest.Disks.All(k => k.Domain >= 0 && k.Domain < manifest.Domains.Length && k.Backend >= 0 && k.Backend < manifest.Domains.Length);

    private static Arbitrary<byte[]> Damage()
    {
        byte[] good = Encoding.ASCII.GetBytes(ManifestText.Write(new Manifest(true, null, [
            new DomainSpec("hello", TestDomain, 16, "hello world", Disks: [new("second", 0, true, 1, 8, 16), new("second", 2, false, 0)]),
            new DomainSpec("second", Other, 32, "100%", 512, 10, 5, 20, DomainAction.Restart, KernelUpgrade: Upgrade, Pci: [new(0, 4, 0), new(1, 2, 3)]),
        ])));
        Gen<(int At, byte Value)> edit = from at in Gen.Choose(0, good.Length - 1)
                                         from value in Gen.Elements<byte>(0, (byte)'\n', (byte)' ', (byte)'=', (byte)'%', (byte)'0', (byte)'9', (byte)'a', 0x7F, 0xFF)
                                         select (at, value);
        return (from edits in edit.ArrayOf()
                from cut in Gen.Choose(0, good.Length)
                select Apply(good, edits, cut)).ToArbitrary();
    }

    private static byte[] Apply(byte[] good, (int At, byte Value)[] edits, int cut)
    {
        var bytes = good.ToArray();
        foreach (var (at, value) in edits) bytes[at] = value;
        return bytes.AsSpan(0, edits.Length % 3 == 0 ? cut : bytes.Length).ToArray();
    }
}

using Keel.Runtime;
using Keel.Testing.Qemu;

namespace Keel.Image.Tests;

/// <summary>The image tool's manifest loader: what it accepts, what it fills in, and how it refuses the rest.</summary>
public sealed class ManifestTests : IDisposable
{
    private readonly ManifestWorkspace _workspace = new();

    public void Dispose() => _workspace.Dispose();

    private const string Hello = """
        [[domain]]
        name = "hello"
        kernel = "test-domain"
        memory = 16

        """;

    [Fact]
    public void A_manifest_using_every_key_loads_with_each_value_as_written()
    {
        var manifest = _workspace.Load("""
            # Keel system manifest
            [system]
            exit_when_done = true
            machine_memory = 256

            [[domain]]
            name = "hello"
            kernel = "test-domain"
            memory = 16
            cmdline = "hello world"
            weight = 512
            warp = 10
            warp_limit = 5
            unwarp = 20
            on_crash = "restart"
            on_poweroff = "destroy"
            """);
        Assert.True(manifest.ExitWhenDone);
        Assert.Equal(256, manifest.MachineMemoryMiB);
        var domain = Assert.Single(manifest.Domains);
        Assert.Equal(new DomainSpec("hello", new KernelImage("test-domain", Path.Combine(_workspace.Domains, "test-domain.elf")), 16,
            "hello world", 512, 10, 5, 20, DomainAction.Restart, DomainAction.Destroy), domain);
    }

    [Fact]
    public void Optional_keys_take_xl_defaults_weight_256_no_warp_destroy_and_an_empty_command_line()
    {
        var domain = Assert.Single(_workspace.Load(Hello).Domains);
        Assert.Equal(("", 256, 0, 0, 0, DomainAction.Destroy, DomainAction.Destroy),
            (domain.CommandLine, domain.Weight, domain.WarpMs, domain.WarpLimitMs, domain.UnwarpMs, domain.OnCrash, domain.OnPoweroff));
        Assert.False(_workspace.Load(Hello).ExitWhenDone);
    }

    [Fact]
    public void A_manifest_with_no_domains_is_a_system_of_the_control_domain_alone()
    {
        var manifest = _workspace.Load("[system]\nexit_when_done = true\n");
        Assert.Empty(manifest.Domains);
        Assert.Equal(["manifest"], manifest.BootModules("m.txt").Select(m => m.String));
    }

    [Fact]
    public void The_example_manifest_in_the_repository_loads_as_one_hello_domain()
    {
        var manifest = Manifest.Load(Path.Combine(RepositoryRoot.Find(), "manifests", "default.toml"), _workspace.Domains);
        var domain = Assert.Single(manifest.Domains);
        Assert.Equal(("hello", "test-domain", 16, "hello"), (domain.Name, domain.Kernel.Name, domain.MemoryMiB, domain.CommandLine));
    }

    [Fact]
    public void Domains_may_also_be_written_as_an_inline_array_of_tables()
    {
        var manifest = _workspace.Load("domain = [\n  { name = \"a\", kernel = \"test-domain\", memory = 8 },\n  { name = \"b\", kernel = \"other\", memory = 8 },\n]\n");
        Assert.Equal(["a", "b"], manifest.Domains.Select(d => d.Name));
        var error = _workspace.Error("domain = [\n  { name = \"a\", kernel = \"test-domain\", memory = 2 },\n]\n");
        Assert.Equal(2, error.Line);
        Assert.Contains("memory = 2 is out of range", error.Message);
    }

    [Fact]
    public void A_misspelt_key_is_refused_at_its_line_and_column_with_the_key_it_was_meant_to_be()
    {
        var errors = _workspace.Errors("""
            [[domain]]
            name = "hello"
            kernel = "test-domain"
              memroy = 16
            """);
        var error = Assert.Single(errors, e => e.Message.Contains("memroy"));
        Assert.Equal((4, 3), (error.Line, error.Column));
        Assert.Equal(_workspace.ManifestPath, error.Source);
        Assert.Contains("unknown key \"memroy\"", error.Message);
        Assert.Contains("did you mean \"memory\"", error.Message);
    }

    [Fact]
    public void A_misspelt_key_is_refused_and_the_required_key_it_stood_for_is_reported_missing()
    {
        var errors = _workspace.Errors("[[domain]]\nname = \"hello\"\nkernel = \"test-domain\"\nmemroy = 16\n");
        Assert.Contains(errors, e => e.Line == 4 && e.Message.Contains("memroy"));
        Assert.Contains(errors, e => e.Line == 1 && e.Message.Contains("required key \"memory\" is missing"));
    }

    [Theory]
    [InlineData("colour = 1\n", 1, "unknown key \"colour\" at the top level")]
    [InlineData("[system]\nexit_when_dne = true\n", 2, "did you mean \"exit_when_done\"")]
    [InlineData("[domains]\n", 1, "did you mean \"domain\"")]
    public void Unknown_keys_outside_the_domains_are_refused_too(string toml, int line, string message)
    {
        var error = _workspace.Error(toml);
        Assert.Equal(line, error.Line);
        Assert.Contains(message, error.Message);
    }

    [Theory]
    [InlineData("memory = \"16\"", "memory must be an integer", "not a string")]
    [InlineData("memory = 16.5", "memory must be an integer", "not a float")]
    [InlineData("cmdline = 5", "cmdline must be a string", "not an integer")]
    [InlineData("on_crash = true", "on_crash must be a string", "not a boolean")]
    [InlineData("weight = [1]", "weight must be an integer", "not an array")]
    public void A_value_of_the_wrong_type_is_refused_naming_its_key_and_both_types(string line, string message, string given)
    {
        bool isMemory = line.StartsWith("memory");
        var error = _workspace.Error(isMemory ? Hello.Replace("memory = 16", line) : Hello + line + "\n");
        Assert.Equal(isMemory ? 4 : 5, error.Line);
        Assert.Contains(message, error.Message);
        Assert.Contains(given, error.Message);
        Assert.Contains("domain \"hello\"", error.Message);
    }

    [Fact]
    public void System_and_domain_of_the_wrong_shape_are_refused()
    {
        Assert.Contains("system must be a table", _workspace.Error("system = 1\n").Message);
        Assert.Contains("domain must be an array of tables", _workspace.Error("[domain]\nname = \"x\"\n").Message);
        Assert.Contains("exit_when_done must be true or false", _workspace.Error("[system]\nexit_when_done = \"yes\"\n").Message);
    }

    [Theory]
    [InlineData("memory = 3", "memory = 3 is out of range: a domain's memory in MiB is 4 to 65536")]
    [InlineData("memory = 65537", "memory = 65537 is out of range")]
    [InlineData("weight = 0", "weight = 0 is out of range: a BVT weight is 1 to 65535")]
    [InlineData("weight = 65536", "weight = 65536 is out of range")]
    [InlineData("warp = 1000001", "warp = 1000001 is out of range")]
    [InlineData("count = 0", "count = 0 is out of range: the number of copies is 1 to 1024")]
    [InlineData("count = 1025", "count = 1025 is out of range")]
    [InlineData("on_crash = \"reboot\"", "on_crash = \"reboot\" is not an action; it may be \"destroy\" or \"restart\"")]
    [InlineData("on_poweroff = \"restart\"", "on_poweroff = \"restart\" is not supported yet")]
    [InlineData("cmdline = \"a\\nb\"", "cmdline holds U+000A at offset 1; a command line is printable ASCII")]
    [InlineData("warp_limit = 5", "warp_limit = 5 means nothing without a warp")]
    [InlineData("unwarp = 5", "unwarp = 5 means nothing without a warp")]
    public void A_value_out_of_its_range_is_refused_with_the_range(string line, string message)
    {
        bool isMemory = line.StartsWith("memory");
        var error = _workspace.Error(isMemory ? Hello.Replace("memory = 16", line) : Hello + line + "\n");
        Assert.Contains(message, error.Message);
        Assert.Equal(isMemory ? 4 : 5, error.Line);
    }

    [Fact]
    public void A_command_line_longer_than_start_info_holds_is_refused()
    {
        Assert.Single(_workspace.Load(Hello + $"cmdline = \"{new string('x', 1023)}\"\n").Domains);
        var error = _workspace.Error(Hello + $"cmdline = \"{new string('x', 1024)}\"\n");
        Assert.Contains("cmdline is 1024 bytes long; start_info holds at most 1023", error.Message);
    }

    [Fact]
    public void Command_lines_adding_up_to_more_than_the_control_domain_keeps_room_for_are_refused()
    {
        string full = $"cmdline = \"{new string('x', 1023)}\"\n";
        Assert.Equal(128, _workspace.Load(Hello + full + "count = 128\n").Domains.Count);
        string more = Hello.Replace("\"hello\"", "\"more\"") + $"cmdline = \"{new string('x', 129)}\"\n";
        var error = _workspace.Error(Hello + full + "count = 128\n" + more);
        Assert.Equal(11, error.Line);
        Assert.Contains("the command lines add up to 131073 bytes, more than the 131072 the control domain keeps room for", error.Message);
    }

    [Fact]
    public void A_warp_limit_without_an_unwarp_time_is_refused_as_the_scheduler_would()
    {
        var error = _workspace.Error(Hello + "warp = 10\nwarp_limit = 5\n");
        Assert.Equal(6, error.Line);
        Assert.Contains("needs unwarp > 0", error.Message);
    }

    [Theory]
    [InlineData("Hello", "must be 1 to 32 of a-z, 0-9 and -")]
    [InlineData("hello world", "must be 1 to 32 of a-z, 0-9 and -")]
    [InlineData("", "must be 1 to 32 of a-z, 0-9 and -")]
    [InlineData("a23456789012345678901234567890123", "must be 1 to 32 of a-z, 0-9 and -")]
    [InlineData("dom0", "reserved for the control domain")]
    [InlineData("control", "reserved for the control domain")]
    public void Names_are_short_lower_case_words_and_not_the_control_domains(string name, string message)
    {
        var error = _workspace.Error(Hello.Replace("\"hello\"", $"\"{name}\""));
        Assert.Equal(2, error.Line);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void A_missing_required_key_is_refused_at_its_domains_header()
    {
        var error = _workspace.Error(Hello + "\n[[domain]]\nname = \"second\"\nkernel = \"test-domain\"\n");
        Assert.Equal((6, 1), (error.Line, error.Column));
        Assert.Contains("domain \"second\": the required key \"memory\" is missing", error.Message);
        var unnamed = _workspace.Error("[[domain]]\nkernel = \"test-domain\"\nmemory = 16\n");
        Assert.Contains("the domain at line 1: the required key \"name\" is missing", unnamed.Message);
    }

    [Fact]
    public void Two_domains_of_one_name_are_refused_at_the_second()
    {
        var error = _workspace.Error(Hello + Hello);
        Assert.Equal(6, error.Line);
        Assert.Contains("domain name \"hello\" is used twice: the domain at line 2 has it too", error.Message);
    }

    [Fact]
    public void Count_makes_numbered_copies_that_share_one_kernel_module()
    {
        var manifest = _workspace.Load(Hello + "count = 3\ncmdline = \"same\"\n");
        Assert.Equal(["hello-0", "hello-1", "hello-2"], manifest.Domains.Select(d => d.Name));
        Assert.All(manifest.Domains, d => Assert.Equal(("same", 16, 1), (d.CommandLine, d.MemoryMiB, manifest.ModuleOf(d))));
        Assert.Equal(["manifest", "kernel test-domain"], manifest.BootModules("m.txt").Select(m => m.String));
    }

    [Fact]
    public void Copies_whose_names_collide_with_another_domain_are_refused_after_expansion()
    {
        var error = _workspace.Error(Hello + "count = 2\n" + Hello.Replace("\"hello\"", "\"hello-1\""));
        Assert.Equal(7, error.Line);
        Assert.Contains("\"hello-1\" is used twice", error.Message);
    }

    [Fact]
    public void A_count_whose_names_would_pass_32_characters_is_refused_at_the_count()
    {
        var error = _workspace.Error(Hello.Replace("\"hello\"", $"\"{new string('a', 30)}\"") + "count = 100\n");
        Assert.Equal(5, error.Line);
        Assert.Contains("longer than 32", error.Message);
    }

    [Fact]
    public void More_than_1024_domains_in_all_are_refused_at_the_domain_that_passes_the_limit()
    {
        Assert.Equal(1024, _workspace.Load(Hello + "count = 1024\n").Domains.Count);
        var error = _workspace.Error(Hello + "count = 1000\n" + Hello.Replace("\"hello\"", "\"more\"") + "count = 25\n");
        Assert.Equal(10, error.Line);
        Assert.Contains("1025 domains, more than the 1024 allowed", error.Message);
    }

    [Fact]
    public void Memory_adding_up_to_more_than_the_stated_machine_memory_is_refused_at_machine_memory()
    {
        Assert.Equal(3, _workspace.Load("[system]\nmachine_memory = 48\n" + Hello + "count = 3\n").Domains.Count);
        var error = _workspace.Error("[system]\nmachine_memory = 47\n" + Hello + "count = 3\n");
        Assert.Equal(2, error.Line);
        Assert.Contains("the domains' memory adds up to 48 MiB, more than machine_memory = 47 MiB", error.Message);
    }

    [Fact]
    public void A_kernel_name_the_build_does_not_make_is_refused_with_the_names_it_does_make()
    {
        var error = _workspace.Error(Hello.Replace("test-domain", "tset-domain"));
        Assert.Equal(3, error.Line);
        Assert.Contains("the build makes no domain image of that name", error.Message);
        Assert.Contains("big, broken, other, test-domain", error.Message);
    }

    [Fact]
    public void A_kernel_path_that_does_not_exist_is_refused_with_the_full_path()
    {
        var error = _workspace.Error(Hello.Replace("\"test-domain\"", "\"kernels/missing.elf\""));
        Assert.Contains(Path.Combine(_workspace.Root, "kernels", "missing.elf") + " does not exist", error.Message);
    }

    [Fact]
    public void A_kernel_file_that_is_not_a_PV64_ELF_is_refused_with_the_domain_builders_reason()
    {
        var error = _workspace.Error(Hello.Replace("test-domain", "broken"));
        Assert.Contains("is not a PV64 kernel: the file is shorter than an ELF64 header", error.Message);
    }

    [Fact]
    public void A_kernel_value_that_could_not_go_on_a_grub_line_is_refused()
    {
        Assert.Contains("letters, digits and . _ + / -", _workspace.Error(Hello.Replace("test-domain", "test domain")).Message);
    }

    [Fact]
    public void Memory_too_small_for_the_kernel_and_its_initial_mapping_is_refused_with_the_least_that_fits()
    {
        var error = _workspace.Error(Hello.Replace("test-domain", "big"));
        Assert.Equal(4, error.Line);
        Assert.Matches("memory = 16 MiB is too little for kernel \"big\" and its initial mapping; it needs at least \\d+ MiB", error.Message);
        int least = int.Parse(System.Text.RegularExpressions.Regex.Match(error.Message, "at least (\\d+) MiB").Groups[1].Value);
        Assert.Single(_workspace.Load(Hello.Replace("test-domain", "big").Replace("16", least.ToString())).Domains);
    }

    [Fact]
    public void Kernels_by_name_and_by_path_get_one_module_each_in_order_of_first_use_and_a_file_named_both_ways_gets_one()
    {
        Directory.CreateDirectory(Path.Combine(_workspace.Root, "kernels"));
        File.WriteAllBytes(Path.Combine(_workspace.Root, "kernels", "mine.elf"), ManifestWorkspace.Kernel(64));
        string Domain(string name, string kernel) => $"[[domain]]\nname = \"{name}\"\nkernel = \"{kernel}\"\nmemory = 8\n";
        var manifest = _workspace.Load(Domain("a", "other") + Domain("b", "kernels/mine.elf") + Domain("c", "other")
            + Domain("d", "artifacts/domains/other.elf") + Domain("e", "test-domain"));
        Assert.Equal([1, 2, 1, 1, 3], manifest.Domains.Select(manifest.ModuleOf));
        Assert.Equal(
            [("m.txt", "manifest"), (Path.Combine(_workspace.Domains, "other.elf"), "kernel other"),
             (Path.Combine(_workspace.Root, "kernels", "mine.elf"), "kernel kernels/mine.elf"),
             (Path.Combine(_workspace.Domains, "test-domain.elf"), "kernel test-domain")],
            manifest.BootModules("m.txt"));
    }

    /// <summary>A block back-end holding two virtio-blk functions, lines 1 to 5.</summary>
    private const string Blkback = """
        [[domain]]
        name = "blkback"
        kernel = "other"
        memory = 16
        pci = ["00:04.0", "00:05.0"]

        """;

    /// <summary>Blkback and a guest with the given disk strings on line 10 (a TOML array of them).</summary>
    private static string Guest(params string[] disks) =>
        Blkback + Hello.Replace("\"hello\"", "\"guest\"") + "disk = [" + string.Join(", ", disks.Select(d => $"\"{d}\"")) + "]\n";

    private DiskSpec OneDisk(string spec) => Assert.Single(_workspace.Load(Guest(spec)).Domains[1].Disks);

    [Fact]
    public void A_driver_domain_and_a_guest_load_with_their_devices_disks_and_upgrade_kernel_as_written()
    {
        var manifest = _workspace.Load("""
            [[domain]]
            name = "blkback"
            kernel = "other"
            kernel_upgrade = "test-domain"
            memory = 16
            on_crash = "restart"
            pci = ["00:04.0", "0000:00:05.1"]

            [[domain]]
            name = "guest"
            kernel = "test-domain"
            memory = 16
            disk = [
                "vda,xvda,w",
                "backend=blkback, vdev=xvdb, access=ro, target=vdb:2048+65536",
            ]
            """);
        var (blkback, guest) = (manifest.Domains[0], manifest.Domains[1]);
        Assert.Equal([new PciAddress(0, 4, 0), new PciAddress(0, 5, 1)], blkback.Pci);
        Assert.Equal([new DiskSpec("blkback", 0, true, 0), new DiskSpec("blkback", 1, false, 1, 2048, 65536)], guest.Disks);
        Assert.Equal(("other", "test-domain"), (blkback.Kernel.Name, blkback.KernelUpgrade?.Name));
        Assert.Equal((1, 2, 2, 0), (manifest.ModuleOf(blkback), manifest.UpgradeModuleOf(blkback), manifest.ModuleOf(guest), manifest.UpgradeModuleOf(guest)));
        Assert.Equal(["manifest", "kernel other", "kernel test-domain"], manifest.BootModules("m.txt").Select(m => m.String));
        Assert.Equal(new DomainSpec("guest", guest.Kernel, 16, "", Disks: [new("blkback", 0, true, 0), new("blkback", 1, false, 1, 2048, 65536)]), guest);
    }

    [Fact]
    public void A_domain_without_pci_disk_or_kernel_upgrade_has_none()
    {
        var manifest = _workspace.Load(Hello);
        var domain = Assert.Single(manifest.Domains);
        Assert.Equal((0, 0, null, 0), (domain.Pci.Count, domain.Disks.Count, domain.KernelUpgrade, manifest.UpgradeModuleOf(domain)));
    }

    [Fact]
    public void An_upgrade_kernel_gets_a_module_of_its_own_after_its_domains_kernel_and_shares_one_with_the_same_file()
    {
        Directory.CreateDirectory(Path.Combine(_workspace.Root, "kernels"));
        File.WriteAllBytes(Path.Combine(_workspace.Root, "kernels", "v2.elf"), ManifestWorkspace.Kernel(64));
        var manifest = _workspace.Load(Blkback + "kernel_upgrade = \"kernels/v2.elf\"\n" + Hello + "kernel_upgrade = \"other\"\n");
        Assert.Equal(["manifest", "kernel other", "kernel kernels/v2.elf", "kernel test-domain"], manifest.BootModules("m.txt").Select(m => m.String));
        Assert.Equal([(1, 2), (3, 1)], manifest.Domains.Select(d => (manifest.ModuleOf(d), manifest.UpgradeModuleOf(d))));
    }

    [Theory]
    [InlineData("00:04.0", 0, 4, 0)]
    [InlineData("0000:00:04.0", 0, 4, 0)]
    [InlineData("ff:1f.7", 0xff, 0x1f, 7)]
    [InlineData("AB:0C.1", 0xab, 0x0c, 1)]
    [InlineData("0:4.0", 0, 4, 0)]
    [InlineData(" bdf=00:04.0 ", 0, 4, 0)]
    public void A_pci_device_is_xls_BDF_in_hex_with_an_optional_zero_segment(string bdf, int bus, int device, int function)
    {
        var manifest = _workspace.Load(Hello + $"pci = [\"{bdf}\"]\n");
        Assert.Equal(new PciAddress(bus, device, function), Assert.Single(Assert.Single(manifest.Domains).Pci));
    }

    [Theory]
    [InlineData("00:04", "this is not a BDF: write [DDDD:]BB:DD.F in hex")]
    [InlineData("", "this is not a BDF")]
    [InlineData("00:04.0.1", "this is not a BDF")]
    [InlineData("00:20.0", "device 20 is beyond 1f")]
    [InlineData("00:04.8", "function 8 is beyond 7")]
    [InlineData("0001:00:04.0", "segment 0001 is not 0000")]
    [InlineData("00:04.0,permissive=1", "options (\\\"permissive=1\\\") are not supported")]
    [InlineData("00:04.0@3", "a virtual slot (@VSLOT) is not supported")]
    public void A_bad_BDF_is_refused_at_its_string(string bdf, string message)
    {
        var error = _workspace.Error(Hello + $"pci = [\"00:03.0\",\n  \"{bdf}\"]\n");
        Assert.Equal((6, 3), (error.Line, error.Column));
        Assert.Contains($"domain \"hello\": pci \"{bdf.Replace("\\\"", "\"")}\": ", error.Message);
        Assert.Contains(message.Replace("\\\"", "\""), error.Message);
    }

    [Fact]
    public void A_pci_device_given_to_two_domains_is_refused_at_the_second_naming_the_first()
    {
        var error = _workspace.Error(Blkback + Hello + "pci = [\"0000:00:05.0\"]\n");
        Assert.Equal((10, 8), (error.Line, error.Column));
        Assert.Contains("domain \"hello\": pci device 0000:00:05.0 is already given to domain \"blkback\" (line 5); a device may be given to one domain only", error.Message);
        Assert.Contains("pci \"0:4.0\": device 0000:00:04.0 is used twice (line 5 has it too)", _workspace.Error(Hello + "pci = [\"00:04.0\", \"0:4.0\"]\n").Message);
        var copies = _workspace.Error(Hello + "pci = [\"00:04.0\"]\ncount = 3\n");
        Assert.Contains("count = 3 would give pci device 0000:00:04.0 to every copy", copies.Message);
    }

    [Theory]
    [InlineData("vda,xvda,w", "blkback", 0, true, 0, 0, 0)]
    [InlineData("vda,xvda", "blkback", 0, true, 0, 0, 0)]
    [InlineData("vdb,,xvdc,r", "blkback", 2, false, 1, 0, 0)]
    [InlineData("vda,raw,xvdd,ro", "blkback", 3, false, 0, 0, 0)]
    [InlineData("vdb:10+20,xvdz,rw", "blkback", 25, true, 1, 10, 20)]
    [InlineData("format=raw, vdev=xvda, access=rw, target=vda", "blkback", 0, true, 0, 0, 0)]
    [InlineData("backend=blkback,vdev=xvdb,access=r,target=vda:0+1,devtype=disk", "blkback", 1, false, 0, 0, 1)]
    [InlineData("vdev=xvde, vda:1099511627775+1", "blkback", 4, true, 0, 1099511627775, 1)]
    [InlineData("target=vda, xvdf, ro", "blkback", 5, false, 0, 0, 0)]
    [InlineData("vda,xvda,,", "blkback", 0, true, 0, 0, 0)]
    public void A_disk_is_xls_disk_spec_positional_or_key_value_with_access_rw_by_default(string spec, string backend, int vdev, bool writable, int target, long start, long sectors)
    {
        Assert.Equal(new DiskSpec(backend, vdev, writable, target, start, sectors), OneDisk(spec));
    }

    [Theory]
    [InlineData("vda,xvda,w,script=block", "\\\"script\\\" is not a disk key Keel knows; they are backend, vdev, access, target, format, devtype")]
    [InlineData("backendtype=phy,vda,xvda", "\\\"backendtype\\\" is not a disk key Keel knows")]
    [InlineData("vda,xvda,w,cdrom", "xl's flag \\\"cdrom\\\" is not supported")]
    [InlineData("vda,qcow2,xvda", "format = \\\"qcow2\\\" is not supported: a Keel disk is raw sectors")]
    [InlineData("format=iso,vda,xvda", "format = \\\"iso\\\" is not a format xl knows")]
    [InlineData("vda,xvda,w,devtype=cdrom", "devtype = \\\"cdrom\\\" is not supported")]
    [InlineData("vda,xvda,x", "access = \\\"x\\\" must be r or ro (read-only), or w or rw (read-write)")]
    [InlineData("vda,xvda,w,extra", "\\\"extra\\\" is one positional parameter too many")]
    [InlineData("vda,xvda,vdev=xvdb", "vdev is given twice")]
    [InlineData("vda", "it has no vdev")]
    [InlineData("vdev=xvda", "it has no target")]
    [InlineData("/dev/sda,xvda,w", "target = \\\"/dev/sda\\\" must be the back-end's disk vda, vdb, ...")]
    [InlineData("vda:5,xvda,w", "must be the back-end's disk vda, vdb, ... optionally with a sector range")]
    [InlineData("vda:5+0,xvda,w", "the range has no sectors; COUNT must be at least 1")]
    [InlineData("vda:1099511627776+1,xvda,w", "the range passes sector 2^40")]
    [InlineData("vda:99999999999999999999+1,xvda,w", "the range passes sector 2^40")]
    [InlineData("backend=Blk,vda,xvda", "backend = \\\"Blk\\\" is not a domain name")]
    public void A_disk_spec_keel_cannot_follow_is_refused_at_its_string_with_the_reason(string spec, string message)
    {
        var errors = _workspace.Errors(Guest(spec));
        Assert.All(errors, e => Assert.Equal((10, 9), (e.Line, e.Column)));
        Assert.Contains(errors, e => e.Message.StartsWith($"domain \"guest\": disk \"{spec}\": ") && e.Message.Contains(message.Replace("\\\"", "\"")));
    }

    [Theory]
    [InlineData("vda,hda,w", "vdev = \"hda\" is an emulated disk's name; a PV guest sees Xen virtual disks only: name it xvda to xvdz")]
    [InlineData("vda,sdb,w", "emulated disk's name")]
    [InlineData("vda,xvdaa,w", "vdev = \"xvdaa\" must be xvd and one letter, xvda to xvdz")]
    [InlineData("vdev=xvd1,target=vda", "must be xvd and one letter")]
    [InlineData("vdev=xvdA,target=vda", "must be xvd and one letter")]
    public void A_vdev_that_is_not_xvd_and_a_letter_is_refused(string spec, string message)
    {
        Assert.Contains(message, _workspace.Error(Guest(spec)).Message);
    }

    [Fact]
    public void A_vdev_used_twice_in_one_domain_is_refused_at_the_second()
    {
        var error = _workspace.Error(Guest("vda:0+8,xvda,w", "vda:8+8,xvda,w"));
        Assert.Equal((10, 27), (error.Line, error.Column));
        Assert.Contains("disk \"vda:8+8,xvda,w\": vdev xvda is used twice (line 10 has it too)", error.Message);
        Assert.Equal(2, _workspace.Load(Guest("vda:0+8,xvda,w", "vda:8+8,xvdb,w") + Hello).Domains[1].Disks.Count);
    }

    [Fact]
    public void Disks_sharing_sectors_are_refused_when_either_is_writable_and_allowed_when_both_are_read_only()
    {
        string second = Hello.Replace("\"hello\"", "\"second\"");
        var error = _workspace.Error(Guest("vda,xvda,w") + second + "disk = [\"vda:100+1,xvda,r\"]\n");
        Assert.Equal(15, error.Line);
        Assert.Contains("domain \"second\": disk xvda on sectors 100 to 100 of vda of \"blkback\" shares sectors with domain \"guest\"'s disk xvda on all of vda of \"blkback\" (line 10), and one of them is writable", error.Message);
        Assert.Single(_workspace.Errors(Guest("vda:0+100,xvda,r", "vda:99+2,xvdb,w")));
        Assert.Equal(3, _workspace.Load(Guest("vda,xvda,r") + second + "disk = [\"vda,xvda,r\", \"vdb:0+100,xvdb\", \"vdb:100+100,xvdc\"]\n").Domains.Count);
        var copies = _workspace.Error(Guest("vda:0+100,xvda,w") + "count = 2\n");
        Assert.Contains("count = 2 gives every copy disk xvda on sectors 0 to 99 of vda of \"blkback\", writable", copies.Message);
        Assert.Equal(3, _workspace.Load(Guest("vda:0+100,xvda,r") + "count = 2\n").Domains.Count);
    }

    [Theory]
    [InlineData("backend=nobody,vda,xvda", "disk xvda: backend \"nobody\" is not a domain of this manifest")]
    [InlineData("backend=hello,vda,xvda", "disk xvda: backend \"hello\" has no pci devices, so it finds no disks to serve")]
    [InlineData("backend=guest,vda,xvda", "disk xvda: backend \"guest\" is this domain itself; a domain cannot serve its own disks")]
    [InlineData("vdc,xvda", "disk xvda: target vdc: backend \"blkback\" has 2 pci devices, so it finds 2 disks at most, vda to vdb")]
    public void A_disks_backend_must_be_another_domain_with_a_pci_device_for_its_target(string spec, string message)
    {
        var error = _workspace.Error(Guest(spec) + Hello);
        Assert.Equal((10, 9), (error.Line, error.Column));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void A_disk_without_a_backend_needs_a_domain_named_blkback()
    {
        var error = _workspace.Error(Hello + "disk = [\"vda,xvda,w\"]\n");
        Assert.Contains("backend \"blkback\" is not a domain of this manifest (a disk without backend= is served by blkback)", error.Message);
        var self = _workspace.Error(Blkback + "disk = [\"vda,xvda,w\"]\n");
        Assert.Contains("backend \"blkback\" is this domain itself", self.Message);
    }

    [Fact]
    public void More_than_8_pci_devices_or_16_disks_in_a_domain_are_refused_at_the_key()
    {
        string nine = string.Join(", ", Enumerable.Range(0, 9).Select(i => $"\"00:{i:x2}.0\""));
        var devices = _workspace.Error(Hello + $"pci = [{nine}]\n");
        Assert.Equal((5, 1), (devices.Line, devices.Column));
        Assert.Contains("pci lists 9 devices; a domain has at most 8", devices.Message);
        var disks = _workspace.Error(Guest(Enumerable.Range(0, 17).Select(i => $"vda,xvd{(char)('a' + i)},r").ToArray()));
        Assert.Equal((10, 1), (disks.Line, disks.Column));
        Assert.Contains("disk lists 17 disks; a domain has at most 16", disks.Message);
    }

    [Fact]
    public void More_than_256_pci_devices_or_1024_disks_in_all_are_refused_at_the_domain_that_passes_the_limit()
    {
        string Driver(int d) => Hello.Replace("\"hello\"", $"\"d{d}\"") + $"pci = [{string.Join(", ", Enumerable.Range(0, 8).Select(f => $"\"{d:x2}:00.{f}\""))}]\n";
        Assert.Equal(32, _workspace.Load(string.Concat(Enumerable.Range(0, 32).Select(Driver))).Domains.Count);
        var devices = _workspace.Error(string.Concat(Enumerable.Range(0, 33).Select(Driver)));
        Assert.Equal((32 * 5 + 5, 8), (devices.Line, devices.Column));
        Assert.Contains("domain \"d32\": with it 264 PCI devices are given out, more than the 256 allowed", devices.Message);

        string sixteen = Guest(Enumerable.Range(0, 16).Select(i => $"vda,xvd{(char)('a' + i)},r").ToArray());
        Assert.Equal(65, _workspace.Load(sixteen + "count = 64\n").Domains.Count);
        var disks = _workspace.Error(sixteen + "count = 65\n");
        Assert.Equal((10, 9), (disks.Line, disks.Column));
        Assert.Contains("domain \"guest-64\": with it the manifest has 1040 disks, more than the 1024 allowed", disks.Message);
    }

    [Fact]
    public void Pci_and_disk_must_be_arrays_of_strings()
    {
        Assert.Contains("pci must be an array of strings, not a string", _workspace.Error(Hello + "pci = \"00:04.0\"\n").Message);
        Assert.Contains("disk must be an array of strings, not an array holding other values", _workspace.Error(Hello + "disk = [1]\n").Message);
    }

    [Fact]
    public void A_kernel_upgrade_is_checked_as_a_kernel_is()
    {
        var missing = _workspace.Error(Hello + "kernel_upgrade = \"missing\"\n");
        Assert.Equal(5, missing.Line);
        Assert.Contains("domain \"hello\": kernel_upgrade = \"missing\": the build makes no domain image of that name", missing.Message);
        Assert.Contains("kernel_upgrade = \"kernels/none.elf\": ", _workspace.Error(Hello + "kernel_upgrade = \"kernels/none.elf\"\n").Message);
        Assert.Contains("is not a PV64 kernel", _workspace.Error(Hello + "kernel_upgrade = \"broken\"\n").Message);
        Assert.Contains("is too little for kernel \"big\"", _workspace.Error(Hello + "kernel_upgrade = \"big\"\n").Message);
        Assert.Contains("kernel_upgrade must be a string", _workspace.Error(Hello + "kernel_upgrade = 1\n").Message);
    }

    [Fact]
    public void Every_bad_device_and_disk_is_reported_at_once_each_at_its_own_string()
    {
        var errors = _workspace.Errors(Blkback + Hello + """
            pci = [
              "00:04.0",
              "00:99.0",
            ]
            disk = [
              "vda,hda",
              "backend=nobody,vda,xvdb",
            ]
            """);
        Assert.Equal([(11, 3), (12, 3), (15, 3), (16, 3)], errors.Select(e => (e.Line, e.Column)));
    }

    [Theory]
    [InlineData("manifests/default.toml")]
    [InlineData("tests/Keel.Bench/Manifests/bench.toml")]
    [MemberData(nameof(SystemTestManifests))]
    public void Every_manifest_in_the_repository_loads_unchanged_and_its_text_reads_back(string manifest)
    {
        // The test domain stands in for every other image the build makes that these manifests name.
        foreach (string image in new[] { "pvgrub", "pvgrub-disk", "blkback", "blkback-2", "kvstore" })
            File.Copy(Path.Combine(_workspace.Domains, "test-domain.elf"), Path.Combine(_workspace.Domains, image + ".elf"));
        var loaded = Manifest.Load(Path.Combine(RepositoryRoot.Find(), manifest), _workspace.Domains);
        Assert.False(Keel.Runtime.Manifest.TryRead(System.Text.Encoding.ASCII.GetBytes(ManifestText.Write(loaded)), out _).IsError);
    }

    public static TheoryData<string> SystemTestManifests() =>
        [.. Directory.GetFiles(Path.Combine(RepositoryRoot.Find(), "tests", "Keel.System.Tests", "Manifests"), "*.toml").Order()
            .Select(f => Path.GetRelativePath(RepositoryRoot.Find(), f))];

    [Fact]
    public void TOML_syntax_errors_are_refused_with_tomlyns_position()
    {
        Assert.Contains(_workspace.Errors("[[domain]]\nname = \"hello\nmemory = 16\n"), e => e.Line == 2);
        var twice = _workspace.Error(Hello + "memory = 32\n");
        Assert.Equal(5, twice.Line);
        Assert.Contains("already defined", twice.Message);
    }

    [Fact]
    public void Every_error_in_a_manifest_is_reported_at_once_each_on_its_own_line()
    {
        File.WriteAllText(_workspace.ManifestPath, Hello + "weight = 0\nwarp = -1\ncolour = 2\n");
        var e = Assert.Throws<ManifestException>(() => Manifest.Load(_workspace.ManifestPath, _workspace.Domains));
        Assert.Equal([5, 6, 7], e.Errors.Select(d => d.Line).Order());
        Assert.StartsWith("the manifest has 3 errors:\n", e.Message);
        Assert.Contains($"{_workspace.ManifestPath}(5,1): domain \"hello\": weight = 0", e.Message);
    }

    [Fact]
    public void A_missing_manifest_file_is_a_build_error()
    {
        var e = Assert.Throws<BuildException>(() => Manifest.Load(Path.Combine(_workspace.Root, "none.toml"), _workspace.Domains));
        Assert.Contains("none.toml is missing", e.Message);
    }
}

// Keel's build entry point, run through ./build.sh (which installs the tools first):
//   ./build.sh                          Image (the default)
//   ./build.sh --target=Build           every project: the freestanding kernel and core library, the image tool, host projects
//   ./build.sh --target=Image           artifacts/keel.img and the fault-test images (keel-pagefault, keel-throw, keel-stackoverflow)
//   ./build.sh --target=Run [--firmware=uefi] [--image=artifacts/keel-pagefault.img]
//              [--manifest=FILE] [--guest=PATH[,memory=MiB][,cmdline=...][,disk=FILE[:ro]]...]... [--exit [--timeout=SECONDS]] [--memory=MiB]
//                                       boots an image with the serial console on this terminal (Ctrl-A X quits)
//   ./build.sh --target=Test            every tests/**/*.Tests project; ends with the line "N passed, N failed"
//   ./build.sh --target=Bench           the benchmarks in tests/Keel.Bench, report under artifacts/bench
using System.Xml.Linq;

var target = Argument("target", "Default");
const string Configuration = "Release";

var root = Context.Environment.WorkingDirectory;
var artifacts = root.Combine("artifacts");

// Skips build output and hidden folders (.git, .config, ...): none holds a project of ours.
bool IsSourceFolder(IFileSystemInfo entry)
{
    string name = entry.Path.Segments.LastOrDefault() ?? "";
    return !(entry is IDirectory && (name is "artifacts" or "bin" or "obj" || name.StartsWith('.')));
}

IReadOnlyList<FilePath> FindProjects(string pattern) =>
    GetFiles(root.CombineWithFilePath(pattern).FullPath, new GlobberSettings { Predicate = IsSourceFolder })
        .OrderBy(p => p.FullPath, StringComparer.Ordinal)
        .ToList();

// Runs a command from the repository root with its output on the console; returns its exit status.
int Execute(string tool, ProcessArgumentBuilder arguments) =>
    StartProcess(tool, new ProcessSettings { Arguments = arguments, WorkingDirectory = root });

void ExecuteOrFail(string tool, ProcessArgumentBuilder arguments)
{
    int status = Execute(tool, arguments);
    if (status != 0) throw new Exception($"{tool} {arguments.RenderSafe()} failed with exit status {status}");
}

Task("Build")
    .Description("Builds every project in Release")
    .Does(() =>
{
    // One solution generated from the projects on disk: a project added anywhere is built without editing
    // this script, and MSBuild restores and builds them all in one pass, in dependency order.
    var projects = FindProjects("**/*.csproj");
    var solutionFile = artifacts.CombineWithFilePath("Keel.Build.slnx");
    EnsureDirectoryExists(artifacts);
    var solution = new XElement("Solution",
        projects.Select(p => new XElement("Project", new XAttribute("Path", artifacts.GetRelativePath(p).FullPath))));
    System.IO.File.WriteAllText(solutionFile.FullPath, solution.ToString() + Environment.NewLine);
    Information("Building {0} projects: {1}", projects.Count, string.Join(", ", projects.Select(p => p.GetFilenameWithoutExtension())));

    DotNetBuild(solutionFile.FullPath, new DotNetBuildSettings
    {
        Configuration = Configuration,
        NoLogo = true,
        Verbosity = DotNetVerbosity.Minimal,
    });
});

// Keel's domains, linked by the image tool as PV64 ELF kernels with Xen notes.
const string ControlDomain = "artifacts/domains/control.elf";
const string TestDomain = "artifacts/domains/test-domain.elf";
var domains = new (string Assembly, string Output)[]
{
    ("artifacts/bin/Keel.Guests.Control/release/Keel.Control.dll", ControlDomain),
    ("artifacts/bin/Keel.Guests.TestDomain/release/Keel.TestDomain.dll", TestDomain),
    ("artifacts/bin/Keel.Blkback/release/Keel.Blkback.dll", "artifacts/domains/blkback.elf"),
    ("artifacts/bin/Keel.Blkback.V2/release/Keel.Blkback.V2.dll", "artifacts/domains/blkback-2.elf"),
    ("artifacts/bin/Keel.Guests.KvStore/release/Keel.KvStore.dll", "artifacts/domains/kvstore.elf"),
};

// Debian's GRUB for Xen (grub-xen-bin), unmodified, as a guest kernel: grub-mkimage links the platform's
// kernel.img with these modules and the embedded script into one PV64 ELF (GRUB-FOR-XEN.md, section 1).
// Two builds, each with its own embedded script: one that only talks (hello.cfg), one that reads an ext2
// disk served by blkback (disk.cfg).
var grubImages = new (string Domain, string Script)[]
{
    ("artifacts/domains/pvgrub.elf", "tests/Keel.System.Tests/Grub/hello.cfg"),
    ("artifacts/domains/pvgrub-disk.elf", "tests/Keel.System.Tests/Grub/disk.cfg"),
};
var grubModules = new[] { "normal", "echo", "ls", "cat", "halt", "minicmd", "lsxen", "configfile", "ext2" };

// Each image: the file the image tool writes, the kernel command line GRUB passes, its boot modules (a file
// and its module string; "dom0 ..." is the initial domain with its command line) and the manifest the
// control domain builds the other domains from.
var noModules = new (string, string)[0];
var control = new[] { (ControlDomain, "dom0") };
string TestManifest(string name) => $"tests/Keel.System.Tests/Manifests/{name}.toml";
var images = new (string File, string CommandLine, (string File, string String)[] Modules, string Manifest)[]
{
    ("keel.img", "", control, "manifests/default.toml"),
    // Shuts down once ready: proves the clean-exit path.
    ("keel-exit.img", "keel.exit", noModules, null),
    // These make the kernel fail on purpose, so the system tests can check each report and the exit status.
    ("keel-pagefault.img", "keel.fault=page", noModules, null),
    ("keel-throw.img", "keel.fault=throw", noModules, null),
    ("keel-stackoverflow.img", "keel.fault=stack", noModules, null),
    // Test domains under the control domain, each a system test.
    ("keel-guest-hello.img", "", control, TestManifest("guest-hello")),
    ("keel-guest-traps.img", "", control, TestManifest("guest-traps")),
    ("keel-guest-paging.img", "", control, TestManifest("guest-paging")),
    ("keel-guest-time.img", "", control, TestManifest("guest-time")),
    ("keel-guest-events.img", "", control, TestManifest("guest-events")),
    ("keel-guest-divide.img", "", control, TestManifest("guest-fault-divide")),
    ("keel-guest-pagefault.img", "", control, TestManifest("guest-fault-page")),
    ("keel-guest-opcode.img", "", control, TestManifest("guest-fault-opcode")),
    ("keel-guest-bounce.img", "", control, TestManifest("guest-fault-bounce")),
    ("keel-bvt.img", "", control, TestManifest("bvt")),
    ("keel-many.img", "", control, TestManifest("many")),
    ("keel-hostile.img", "", control, TestManifest("hostile")),
    ("keel-pingpong.img", "", control, TestManifest("pingpong")),
    ("keel-hostile-talk.img", "", control, TestManifest("hostile-talk")),
    ("keel-pingpong-crash.img", "", control, TestManifest("pingpong-crash")),
    // The control domain checks its own domctl tools on a domain of its own, then runs the manifest's.
    ("keel-domctl.img", "", new[] { (ControlDomain, "dom0 domctl-test") }, TestManifest("guest-hello")),
    // The Bench target's kernel micro-benchmarks.
    ("keel-bench.img", "", control, "tests/Keel.Bench/Manifests/bench.toml"),
    ("keel-blkbench.img", "", control, "tests/Keel.Bench/Manifests/blkbench.toml"),
    ("keel-guest-hypercalls.img", "", control, TestManifest("guest-hypercalls")),
    ("keel-guest-grub.img", "", control, TestManifest("guest-grub")),
    ("keel-device-probe.img", "", control, TestManifest("device-probe")),
    ("keel-blk-direct.img", "", control, TestManifest("blk-direct")),
    ("keel-blk-two-write.img", "", control, TestManifest("blk-two-write")),
    ("keel-blk-two-verify.img", "", control, TestManifest("blk-two-verify")),
    ("keel-blk-swap.img", "", control, TestManifest("blk-swap")),
    ("keel-blk-hostile.img", "", control, TestManifest("blk-hostile")),
    ("keel-guest-grub-disk.img", "", control, TestManifest("guest-grub-disk")),
    // The key-value store puts keys on a disk, and a second boot on the same disk file gets them back.
    ("keel-kvstore-put.img", "", control, TestManifest("kvstore-put")),
    ("keel-kvstore-get.img", "", control, TestManifest("kvstore-get")),
};

// Freestanding code linked as a static Linux executable, which the host tests run (tests/Keel.Freestanding.Tests).
var linuxProcesses = new (string Assembly, string Output)[]
{
    ("artifacts/bin/Keel.Freestanding.Probe/release/Keel.Freestanding.Probe.dll", "artifacts/linux/freestanding-probe"),
};

Task("Image")
    .Description("Builds the bootable disk images and the freestanding test executables under artifacts/")
    .IsDependentOn("Build")
    .Does(() =>
{
    foreach (var domain in domains)
    {
        ExecuteOrFail("dotnet", new ProcessArgumentBuilder()
            .Append("run").Append("--no-build").Append("-c").Append(Configuration).Append("--project").Append("image")
            .Append("--").Append("--domain").AppendQuoted(root.CombineWithFilePath(domain.Assembly).FullPath)
            .Append("--output").AppendQuoted(root.CombineWithFilePath(domain.Output).FullPath));
    }
    foreach (var (grubDomain, grubScript) in grubImages)
    {
        EnsureDirectoryExists(root.CombineWithFilePath(grubDomain).GetDirectory());
        // The prefix names the disk GRUB would read its grub.cfg from; the embedded script runs first.
        var grub = new ProcessArgumentBuilder()
            .Append("-O").Append("x86_64-xen").Append("-o").AppendQuoted(root.CombineWithFilePath(grubDomain).FullPath)
            .Append("-c").AppendQuoted(root.CombineWithFilePath(grubScript).FullPath).Append("-p").AppendQuoted("(xen/xvda)/boot/grub");
        foreach (string module in grubModules) grub.Append(module);
        ExecuteOrFail("grub-mkimage", grub);
    }
    // One run of the image tool compiles the kernel once and writes every image.
    var arguments = new ProcessArgumentBuilder()
        .Append("run").Append("--no-build").Append("-c").Append(Configuration).Append("--project").Append("image").Append("--");
    foreach (var image in images)
    {
        arguments.Append("--output").AppendQuoted(artifacts.CombineWithFilePath(image.File).FullPath);
        if (image.CommandLine.Length > 0) arguments.Append("--cmdline").AppendQuoted(image.CommandLine);
        foreach (var module in image.Modules)
        {
            arguments.Append("--module").AppendQuoted(root.CombineWithFilePath(module.File).FullPath).AppendQuoted(module.String);
        }
        if (image.Manifest != null) arguments.Append("--manifest").AppendQuoted(root.CombineWithFilePath(image.Manifest).FullPath);
    }
    ExecuteOrFail("dotnet", arguments);
    foreach (var process in linuxProcesses)
    {
        ExecuteOrFail("dotnet", new ProcessArgumentBuilder()
            .Append("run").Append("--no-build").Append("-c").Append(Configuration).Append("--project").Append("image")
            .Append("--").Append("--linux-process").AppendQuoted(root.CombineWithFilePath(process.Assembly).FullPath)
            .Append("--output").AppendQuoted(root.CombineWithFilePath(process.Output).FullPath));
    }
});

// A manifest for Run's --manifest, --guest and --exit: the chosen manifest (the default one if none), with
// each --guest=PATH[,memory=MiB][,cmdline=TEXT][,disk=FILE[:ro]]... appended as a domain named guest, guest-1, ...
// and, with --exit, exit_when_done set so the machine stops once every domain has ended. A guest's disk=FILE
// options give it xvda, xvdb, ... in order (":ro" for read-only); each distinct file is one virtio-blk device
// of QEMU's, at slots 00:04.0, 00:05.0, ... in the order files are first named, and a blkback domain that holds
// them all is added before the guests, once any guest has a disk. Returns the manifest and QEMU's arguments
// for those devices (none without disks, so a run without them is what it always was).
(string Manifest, List<string> Devices) RunManifest(string manifest, IList<string> guests, bool exit)
{
    var text = new System.Text.StringBuilder();
    var lines = System.IO.File.ReadAllLines(manifest).Where(l => !(exit && l.TrimStart().StartsWith("exit_when_done"))).ToList();
    bool hasSystem = lines.Any(l => l.Trim() == "[system]");
    if (exit && !hasSystem) text.AppendLine("[system]\nexit_when_done = true\n");
    foreach (string line in lines)
    {
        text.AppendLine(line);
        if (exit && line.Trim() == "[system]") text.AppendLine("exit_when_done = true");
    }
    string Quoted(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    // Every disk file once, in the order first named, with the guest disks on it (name, vdev, writable).
    var files = new List<string>();
    var users = new Dictionary<string, List<(string Guest, string Vdev, bool Writable)>>();
    var domains = new System.Text.StringBuilder();
    for (int i = 0; i < guests.Count; i++)
    {
        string name = i == 0 ? "guest" : $"guest-{i}";
        string[] parts = guests[i].Split(',', 2);
        string kernel = MakeAbsolute(File(parts[0])).FullPath;
        if (!System.IO.File.Exists(kernel)) throw new Exception($"--guest: {kernel} does not exist");
        string memory = "32", cmdline = "";
        var disks = new List<string>();
        foreach (string option in parts.Length > 1 ? parts[1].Split(',') : new string[0])
        {
            if (option.StartsWith("memory=")) memory = option.Substring(7);
            else if (option.StartsWith("cmdline=")) cmdline = option.Substring(8);
            else if (option.StartsWith("disk=")) disks.Add(option.Substring(5));
            else throw new Exception($"--guest: unknown option '{option}' (memory=MiB, cmdline=TEXT, disk=FILE[:ro])");
        }
        var specs = new List<string>();
        foreach (string disk in disks)
        {
            bool writable = !disk.EndsWith(":ro");
            string given = writable ? disk : disk.Substring(0, disk.Length - 3);
            if (given.Length == 0) throw new Exception($"--guest {name}: disk= names no file (disk=FILE for read-write, disk=FILE:ro for read-only)");
            string file = MakeAbsolute(File(given)).FullPath;
            if (!System.IO.File.Exists(file))
                throw new Exception($"--guest {name}: disk file {file} does not exist (a raw disk image; `truncate -s 64M {given}` makes an empty one)");
            if (!users.ContainsKey(file))
            {
                files.Add(file);
                users[file] = new List<(string, string, bool)>();
            }
            string vdev = "xvd" + (char)('a' + specs.Count);
            users[file].Add((name, vdev, writable));
            specs.Add(Quoted($"backend=blkback, vdev={vdev}, access={(writable ? "rw" : "ro")}, target=vd{(char)('a' + files.IndexOf(file))}"));
        }
        domains.AppendLine($"\n[[domain]]\nname = \"{name}\"\nkernel = {Quoted(kernel)}\nmemory = {memory}\ncmdline = {Quoted(cmdline)}");
        if (specs.Count > 0) domains.AppendLine($"disk = [{string.Join(", ", specs)}]");
    }

    // One writer of a file could change what another guest reads (and two writers would ruin it), so a file
    // given more than once must be read-only every time; the manifest check refuses it too, but in terms of
    // sectors of vda, vdb, ..., not of the files named here.
    foreach (string file in files.Where(f => users[f].Count > 1 && users[f].Any(u => u.Writable)))
    {
        throw new Exception($"--guest: disk file {file} is given {users[file].Count} times ("
            + string.Join(", ", users[file].Select(u => $"{u.Guest} {u.Vdev} {(u.Writable ? "read-write" : "read-only")}"))
            + "); a file may be shared only when every guest gets it read-only (disk=FILE:ro)");
    }
    const int MaxDiskFiles = 8;
    if (files.Count > MaxDiskFiles)
        throw new Exception($"--guest: {files.Count} disk files are named; blkback takes at most {MaxDiskFiles} (one PCI device each)");

    var devices = new List<string>();
    if (files.Count > 0)
    {
        var slots = Enumerable.Range(4, files.Count).ToList();
        text.AppendLine($"\n# The block driver domain for the --guest disk files, one virtio-blk device each.\n[[domain]]\nname = \"blkback\"\n"
            + $"kernel = {Quoted(root.CombineWithFilePath("artifacts/domains/blkback.elf").FullPath)}\n"
            + $"kernel_upgrade = {Quoted(root.CombineWithFilePath("artifacts/domains/blkback-2.elf").FullPath)}\n"
            + $"memory = 48\non_crash = \"restart\"\npci = [{string.Join(", ", slots.Select(s => $"\"00:{s:x2}.0\""))}]");
        for (int n = 0; n < files.Count; n++)
        {
            // QEMU's option syntax doubles a comma that belongs to the value; a file no guest writes is opened read-only.
            string readOnly = users[files[n]].Any(u => u.Writable) ? "" : ",readonly=on";
            devices.AddRange(new[] { "-drive", $"if=none,id=disk{n},format=raw,file={files[n].Replace(",", ",,")}{readOnly}" });
            devices.AddRange(new[] { "-device", $"virtio-blk-pci,drive=disk{n},addr=0x{slots[n]:x}" });
        }
    }
    text.Append(domains);
    var path = artifacts.Combine("run").CombineWithFilePath("run.toml");
    EnsureDirectoryExists(path.GetDirectory());
    System.IO.File.WriteAllText(path.FullPath, text.ToString());
    return (path.FullPath, devices);
}

Task("Run")
    .Description("Boots an image in QEMU with the serial console on this terminal (--firmware=bios|uefi, --image=<path>, --manifest=FILE, --guest=PATH[,memory=MiB][,cmdline=...][,disk=FILE[:ro]]..., --exit); each guest's disk files are its xvda, xvdb, ..., served by a blkback domain")
    .IsDependentOn("Image")
    .Does(() =>
{
    string firmware = Argument("firmware", "bios");
    var image = MakeAbsolute(File(Argument("image", artifacts.CombineWithFilePath("keel.img").FullPath)));
    var guests = Arguments<string>("guest", new string[0]).ToList();
    bool exit = HasArgument("exit");
    var devices = new List<string>();
    if (HasArgument("manifest") || guests.Count > 0 || exit)
    {
        // An image of its own: the control domain with the manifest the options describe.
        (string manifest, devices) = RunManifest(MakeAbsolute(File(Argument("manifest", "manifests/default.toml"))).FullPath, guests, exit);
        image = artifacts.Combine("run").CombineWithFilePath("keel-run.img");
        ExecuteOrFail("dotnet", new ProcessArgumentBuilder()
            .Append("run").Append("--no-build").Append("-c").Append(Configuration).Append("--project").Append("image").Append("--")
            .Append("--output").AppendQuoted(image.FullPath)
            .Append("--module").AppendQuoted(root.CombineWithFilePath(ControlDomain).FullPath).AppendQuoted("dom0")
            .Append("--manifest").AppendQuoted(manifest));
    }

    // -nographic puts the serial port and QEMU's monitor on this terminal; Ctrl-A X quits, Ctrl-A C toggles the monitor.
    var arguments = new ProcessArgumentBuilder()
        .Append("-nographic").Append("-no-reboot").Append("-m").Append(Argument("memory", "256") + "M").Append("-nic").Append("none")
        .Append("-device").Append("isa-debug-exit,iobase=0xf4,iosize=0x04")
        // snapshot=on: the guest's writes to the disk are thrown away, so the image stays as built.
        .Append("-drive").Append($"format=raw,file={image.FullPath},snapshot=on");
    // The guests' disk files, written for real (no snapshot): what a guest stores is there for the next run.
    foreach (string argument in devices) arguments.AppendQuoted(argument);
    switch (firmware)
    {
        case "bios":
            break;
        case "uefi":
            // OVMF writes its variable store, so it gets a fresh copy of Debian's template each run.
            var vars = artifacts.Combine("qemu").CombineWithFilePath("OVMF_VARS_4M.fd");
            EnsureDirectoryExists(vars.GetDirectory());
            CopyFile("/usr/share/OVMF/OVMF_VARS_4M.fd", vars);
            arguments.Append("-machine").Append("q35")
                .Append("-drive").Append("if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd")
                .Append("-drive").Append($"if=pflash,format=raw,file={vars.FullPath}");
            break;
        default:
            throw new Exception($"--firmware={firmware}: expected bios or uefi");
    }

    Information("Booting {0} with {1} firmware; Ctrl-A X quits", root.GetRelativePath(image), firmware);
    // With --exit a run that hangs is cut off (--timeout=SECONDS, 300 by default) and counts as a failure.
    int timeout = exit ? Argument("timeout", 300) : 0;
    int status;
    using (var qemu = StartAndReturnProcess("qemu-system-x86_64", new ProcessSettings { Arguments = arguments, WorkingDirectory = root }))
    {
        if (timeout > 0 && !qemu.WaitForExit(timeout * 1000))
        {
            qemu.Kill();
            throw new Exception($"the run did not end within {timeout} s and was cut off");
        }
        qemu.WaitForExit();
        status = qemu.GetExitCode();
    }
    // The kernel ends a run through isa-debug-exit: writing v to port 0xf4 makes QEMU exit with 2v+1.
    string meaning = status switch
    {
        0 => "QEMU was quit",
        33 => exit ? "every domain powered off" : "the kernel shut down",
        35 => "the kernel reported a fatal fault",
        37 => "the control domain ended without powering off (a guest crashed or did not power off)",
        _ => "QEMU failed",
    };
    Information("QEMU exited with status {0}: {1}", status, meaning);
    if (status is not (0 or 33) || (exit && status != 33)) throw new Exception($"QEMU exited with status {status} ({meaning})");
});

Task("Test")
    .Description("Runs every test project (tests/**/*.Tests.csproj) and prints the totals")
    .IsDependentOn("Image")
    .Does(() =>
{
    var results = artifacts.Combine("test-results");
    long passed = 0, failed = 0, skipped = 0;
    var problems = new List<string>();
    foreach (var project in FindProjects("tests/**/*.Tests.csproj"))
    {
        string name = project.GetFilenameWithoutExtension().FullPath;
        var report = results.CombineWithFilePath(name + ".xml");
        if (FileExists(report)) DeleteFile(report);

        Information("");
        Information("== {0}", name);
        // Microsoft.Testing.Platform runs the project; xunit's own report gives exact counts whatever the console shows.
        int status = Execute("dotnet", new ProcessArgumentBuilder()
            .Append("test").Append("--project").AppendQuoted(project.FullPath).Append("-c").Append(Configuration).Append("--no-build")
            .Append("--results-directory").AppendQuoted(results.FullPath)
            .Append("--report-xunit-xml").Append("--report-xunit-xml-filename").Append(name + ".xml"));

        if (!FileExists(report))
        {
            problems.Add($"{name} exited with status {status} and wrote no report");
            continue;
        }
        long projectFailed = 0, projectErrors = 0;
        foreach (var assembly in XDocument.Load(report.FullPath).Descendants("assembly"))
        {
            long Count(string attribute) => long.Parse((string)assembly.Attribute(attribute) ?? "0");
            passed += Count("passed");
            projectFailed += Count("failed");
            skipped += Count("skipped");
            projectErrors += Count("errors");
        }
        failed += projectFailed;
        if (projectErrors > 0) problems.Add($"{name}: {projectErrors} errors outside any test (see its output above)");
        // A failing status with no failed test means the run itself went wrong (no tests found, a crash, ...).
        if (status != 0 && projectFailed == 0 && projectErrors == 0)
        {
            problems.Add($"{name} exited with status {status} (see https://aka.ms/testingplatform/exitcodes)");
        }
    }

    // CI reads this line, so it is written plainly, alone on its line, in exactly this form.
    Console.WriteLine();
    Console.WriteLine(skipped > 0 ? $"{passed} passed, {failed} failed, {skipped} skipped" : $"{passed} passed, {failed} failed");
    foreach (string problem in problems) Error(problem);
    if (failed > 0 || problems.Count > 0) throw new Exception("tests failed");
});

Task("Bench")
    .Description("Runs the benchmarks in tests/Keel.Bench (rings, and boots of the real image); the report goes to artifacts/bench")
    .IsDependentOn("Image")
    .Does(() =>
{
    var project = root.CombineWithFilePath("tests/Keel.Bench/Keel.Bench.csproj");
    if (!FileExists(project))
    {
        Warning("No benchmark project at {0}: nothing to run", root.GetRelativePath(project));
        return;
    }
    var output = artifacts.Combine("bench");
    ExecuteOrFail("dotnet", new ProcessArgumentBuilder()
        .Append("run").Append("--no-build").Append("-c").Append(Configuration).Append("--project").AppendQuoted(project.FullPath)
        .Append("--").AppendQuoted(output.FullPath));
    Information("Benchmark report: {0}", root.GetRelativePath(output));
});

Task("Default").IsDependentOn("Image");

RunTarget(target);

using System.Reflection;
using System.Text;

namespace Keel.Image;

/// <summary>
/// keel-image: turns the compiled kernel assembly into kernel.elf and a bootable hybrid disk image.
///   keel-image [--configuration Release] [--output artifacts/keel.img [--cmdline "..."]]...
///   keel-image --linux-process path/to/Freestanding.dll --output path/to/executable
///   keel-image --domain path/to/Domain.dll --output path/to/domain.elf
/// The second form links freestanding code, compiled exactly as for the kernel, into a static Linux
/// executable, so host tests can run it. The third links a Keel domain: a PV64 ELF kernel with Xen notes.
/// An image's --module PATH STRING adds a boot module (GRUB's module2 line: the file and its string; a
/// string starting "dom0" makes it the initial domain). An image's --manifest FILE checks that system
/// manifest (see Manifest) and adds it, as text for the control domain, and the kernels it names as modules.
/// Run from the repository root (build.cake does). Steps: ILC compiles the managed kernel to an object;
/// Iced generates the boot and runtime stubs; ld links them with the generated script; nm extracts the
/// symbol table the kernel loads as a module to name code addresses in its reports; grub-mkrescue builds
/// an image that boots under BIOS and UEFI, from a CD drive or as a raw disk.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        try
        {
            var options = Options.Parse(args);
            Build(options);
            return 0;
        }
        catch (BuildException e)
        {
            Console.Error.WriteLine($"keel-image: {e.Message}");
            return 1;
        }
    }

    private static void Build(Options options)
    {
        string root = Directory.GetCurrentDirectory();
        if (options.Standalone is var (kind, path))
        {
            string assembly = Path.GetFullPath(path, root);
            string work = Path.Combine(root, "artifacts", kind == ImageKind.Domain ? "domains" : "linux", Path.GetFileNameWithoutExtension(assembly));
            string output = Path.GetFullPath(options.Images[^1].Output, root);
            Directory.CreateDirectory(Path.GetDirectoryName(output)!);
            CompileAndLink(kind, assembly, work, output);
            Console.WriteLine($"keel-image: {output} ({new FileInfo(output).Length / 1024} KiB)");
            return;
        }

        // Manifests are checked before the kernel is compiled, so a mistake in one fails the build at once.
        string domainsDirectory = Path.Combine(root, "artifacts", "domains");
        var manifests = options.Images.Select(i => i.Manifest is null ? null : Manifest.Load(Path.GetFullPath(i.Manifest, root), domainsDirectory)).ToList();

        string configuration = options.Configuration.ToLowerInvariant();
        string kernelDll = Path.Combine(root, "artifacts", "bin", "Keel.Kernel", configuration, "Keel.Kernel.dll");
        string kernelWork = Path.Combine(root, "artifacts", "kernel");
        string elf = Path.Combine(kernelWork, "kernel.elf");
        CompileAndLink(ImageKind.Kernel, kernelDll, kernelWork, elf);
        CheckMultibootHeader(elf);

        string symbols = Path.Combine(kernelWork, "kernel.sym");
        File.WriteAllText(symbols, SymbolTable.FromNm(Tools.Run("nm", ["-n", "--defined-only", elf])));

        if (!File.Exists(ConsoleFont.GrubAsciiHeader)) throw new BuildException($"{ConsoleFont.GrubAsciiHeader} is missing (Debian package grub-common)");
        byte[] font = ConsoleFont.FromGrubHeader(File.ReadAllText(ConsoleFont.GrubAsciiHeader));

        // One kernel, several images: they differ only in the command line GRUB passes.
        foreach (var ((output, commandLine, modules, _), manifest) in options.Images.Zip(manifests))
        {
            string staging = Path.Combine(kernelWork, "iso-" + Path.GetFileNameWithoutExtension(output));
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            Directory.CreateDirectory(Path.Combine(staging, "boot", "grub"));
            File.Copy(elf, Path.Combine(staging, "boot", "kernel.elf"));
            File.Copy(symbols, Path.Combine(staging, "boot", "kernel.sym"));
            File.WriteAllBytes(Path.Combine(staging, "boot", "font.bin"), font);
            var moduleLines = new List<(string File, string String)>();
            foreach (var (file, text) in manifest is null ? modules : [.. modules, .. ManifestModules(manifest, kernelWork, output)])
            {
                string source = Path.GetFullPath(file, root);
                if (!File.Exists(source)) throw new BuildException($"module {source} is missing");
                string name = $"module{moduleLines.Count}-{Path.GetFileName(source)}";
                File.Copy(source, Path.Combine(staging, "boot", name));
                moduleLines.Add(("/boot/" + name, text));
            }
            File.WriteAllText(Path.Combine(staging, "boot", "grub", "grub.cfg"), GrubConfig(commandLine, moduleLines));

            string image = Path.GetFullPath(output, root);
            Directory.CreateDirectory(Path.GetDirectoryName(image)!);
            Tools.Run("grub-mkrescue", ["-o", image, staging]);
            Console.WriteLine($"keel-image: {image} ({new FileInfo(image).Length / 1024} KiB), kernel.elf {new FileInfo(elf).Length / 1024} KiB");
        }
    }

    /// <summary>
    /// ILC compiles the assembly (with every other assembly beside it as a reference, the core library
    /// among them) to one object; the stubs for the image kind are generated and wrapped; ld links them
    /// with the generated script.
    /// </summary>
    private static void CompileAndLink(ImageKind kind, string assembly, string work, string output)
    {
        if (!File.Exists(assembly)) throw new BuildException($"{assembly} is missing: build its project first");
        Directory.CreateDirectory(work);
        string name = Path.GetFileNameWithoutExtension(assembly);
        string managedObject = Path.Combine(work, name + ".o");
        var ilcArguments = new List<string> { assembly, "-o", managedObject };
        foreach (var reference in Directory.GetFiles(Path.GetDirectoryName(assembly)!, "*.dll").Where(f => f != assembly).Order())
        {
            ilcArguments.Add("-r");
            ilcArguments.Add(reference);
        }
        // The runtime library's exports (the entry, the fatal-error sink) must be kept in every domain.
        if (kind == ImageKind.Domain) ilcArguments.Add("--generateunmanagedentrypoints:Keel.Runtime");
        ilcArguments.AddRange([
            "--systemmodule:System.Private.CoreLib", "--generateunmanagedentrypoints:System.Private.CoreLib",
            "--nativelib", "--reflectiondata:none", "--targetos:linux", "--targetarch:x64",
            "--instruction-set:x86-64", "-O", "--map:" + Path.Combine(work, name + ".map.xml"),
        ]);
        Tools.Run(IlcPath(), ilcArguments);

        var stubs = RuntimeStubs.Generate(kind);
        var objects = new List<string>();
        string script = Path.Combine(work, name + ".ld");
        if (kind == ImageKind.Kernel)
        {
            var (bootBytes, bootEntry) = BootStub.Generate();
            objects.Add(WrapBlob(work, "boot", bootBytes, ".keelboot"));
            File.WriteAllText(script, LinkerScript.GenerateKernel(stubs, bootEntry));
        }
        else if (kind == ImageKind.Domain)
        {
            File.WriteAllText(script, LinkerScript.GenerateDomain(stubs, "Keel", Version));
        }
        else
        {
            File.WriteAllText(script, LinkerScript.GenerateLinuxProcess(stubs));
        }
        objects.Add(WrapBlob(work, "stubs", stubs.Bytes, ".keelstubs"));
        objects.Add(managedObject);
        Tools.Run("ld", [
            "-nostdlib", "-static", "-z", "noexecstack", "-z", "max-page-size=0x1000", "--no-warn-rwx-segments",
            "-T", script, "-o", output, .. objects,
        ]);
    }

    private static string IlcPath()
    {
        string? path = typeof(Program).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "IlcPath")?.Value;
        if (path is null || !File.Exists(path)) throw new BuildException($"ILC not found at '{path}': restore the image tool project");
        return path;
    }

    /// <summary>Wraps raw machine code in an ELF object whose only section has the given name.</summary>
    private static string WrapBlob(string work, string name, byte[] bytes, string section)
    {
        string bin = Path.Combine(work, name + ".bin");
        string obj = Path.Combine(work, name + ".o");
        File.WriteAllBytes(bin, bytes);
        Tools.Run("objcopy", [
            "-I", "binary", "-O", "elf64-x86-64", "-B", "i386:x86-64",
            "--rename-section", $".data={section},contents,alloc,load,readonly,code", name + ".bin", name + ".o",
        ], work);
        return obj;
    }

    /// <summary>The manifest as the control domain's text, written beside the kernel, and the kernels it names.</summary>
    private static IReadOnlyList<(string File, string String)> ManifestModules(Manifest manifest, string work, string output)
    {
        string text = Path.Combine(work, Path.GetFileNameWithoutExtension(output) + ".manifest");
        File.WriteAllText(text, ManifestText.Write(manifest), Encoding.ASCII);
        return manifest.BootModules(text);
    }

    /// <summary>GRUB looks for the Multiboot2 header in the first 32 KiB of the file, 8-byte aligned.</summary>
    private static void CheckMultibootHeader(string elf)
    {
        byte[] head = File.ReadAllBytes(elf).AsSpan(0, 32768).ToArray();
        for (int i = 0; i + 4 <= head.Length; i += 8)
        {
            if (BitConverter.ToUInt32(head, i) == 0xE85250D6) return;
        }
        throw new BuildException("kernel.elf has no Multiboot2 header in its first 32 KiB");
    }

    /// <summary>Keel's version, which domains carry in their GUEST_VERSION note (the kernel's Kernel.Version).</summary>
    private const string Version = "0.1.0";

    private static string GrubConfig(string commandLine, List<(string File, string String)> modules)
    {
        var s = new StringBuilder();
        s.AppendLine("# Generated by keel-image.");
        s.AppendLine("set timeout=0");
        // UEFI GRUB needs a video driver loaded before a Multiboot2 boot, or it complains about video modes.
        s.AppendLine("insmod all_video");
        s.AppendLine("set default=0");
        s.AppendLine("menuentry \"Keel\" {");
        s.AppendLine($"    multiboot2 /boot/kernel.elf {commandLine}".TrimEnd());
        s.AppendLine("    module2 /boot/kernel.sym symbols");
        s.AppendLine("    module2 /boot/font.bin font");
        foreach (var (file, text) in modules) s.AppendLine($"    module2 {file} {text}".TrimEnd());
        s.AppendLine("    boot");
        s.AppendLine("}");
        return s.ToString();
    }

    /// <summary>
    /// Each --output starts another image; a --cmdline, --module or --manifest after it belongs to that image.
    /// With --linux-process or --domain, the last --output names the file to write.
    /// </summary>
    private sealed record Options(string Configuration, List<(string Output, string CommandLine, List<(string File, string String)> Modules, string? Manifest)> Images, (ImageKind Kind, string Assembly)? Standalone)
    {
        public static Options Parse(string[] args)
        {
            string configuration = "Release";
            (ImageKind, string)? standalone = null;
            var images = new List<(string Output, string CommandLine, List<(string File, string String)> Modules, string? Manifest)>();
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new BuildException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--configuration": configuration = Value(); break;
                    case "--output": images.Add((Value(), "", [], null)); break;
                    case "--cmdline":
                        if (images.Count == 0) throw new BuildException("--cmdline must follow the --output it belongs to");
                        images[^1] = images[^1] with { CommandLine = Value() };
                        break;
                    case "--module":
                        if (images.Count == 0) throw new BuildException("--module must follow the --output it belongs to");
                        string file = Value();
                        images[^1].Modules.Add((file, Value()));
                        break;
                    case "--manifest":
                        if (images.Count == 0) throw new BuildException("--manifest must follow the --output it belongs to");
                        images[^1] = images[^1] with { Manifest = Value() };
                        break;
                    case "--linux-process": standalone = (ImageKind.LinuxProcess, Value()); break;
                    case "--domain": standalone = (ImageKind.Domain, Value()); break;
                    default: throw new BuildException($"unknown option {args[i]}");
                }
            }
            if (images.Count == 0) images.Add(("artifacts/keel.img", "", [], null));
            return new Options(configuration, images, standalone);
        }
    }
}

using Keel.Kernel.Tests;

namespace Keel.Image.Tests;

/// <summary>
/// A temporary folder standing for the repository as the image tool sees it: a domains folder with real
/// PV64 kernels (the small "test-domain" and "other", a "big" one with 16 MiB of bss, and "broken", which is
/// not ELF at all), and a manifest file to load beside it.
/// </summary>
internal sealed class ManifestWorkspace : IDisposable
{
    public ManifestWorkspace()
    {
        Root = Directory.CreateTempSubdirectory("keel-manifest-").FullName;
        Domains = Path.Combine(Root, "artifacts", "domains");
        Directory.CreateDirectory(Domains);
        File.WriteAllBytes(Path.Combine(Domains, "test-domain.elf"), Kernel(16));
        File.WriteAllBytes(Path.Combine(Domains, "other.elf"), Kernel(32));
        File.WriteAllBytes(Path.Combine(Domains, "big.elf"), Kernel(16 << 20));
        File.WriteAllBytes(Path.Combine(Domains, "broken.elf"), "not a kernel"u8.ToArray());
    }

    public string Root { get; }

    public string Domains { get; }

    public string ManifestPath => Path.Combine(Root, "system.toml");

    /// <summary>A PV64 kernel of one loaded segment whose memory size is the given bytes.</summary>
    public static byte[] Kernel(ulong memoryBytes) =>
        new XenElfBuilder { HeaderEntry = 0x2000 }.GenericNotes().Load(0x2000, new byte[16], memoryBytes).Build();

    public Manifest Load(string toml)
    {
        File.WriteAllText(ManifestPath, toml);
        return Manifest.Load(ManifestPath, Domains);
    }

    /// <summary>The errors a manifest that must be refused is refused with.</summary>
    public IReadOnlyList<ManifestDiagnostic> Errors(string toml) => Assert.Throws<ManifestException>(() => Load(toml)).Errors;

    /// <summary>The one error the manifest is refused with.</summary>
    public ManifestDiagnostic Error(string toml) => Assert.Single(Errors(toml));

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

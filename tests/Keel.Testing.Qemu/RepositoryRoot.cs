namespace Keel.Testing.Qemu;

/// <summary>Locates the repository, so tests find the images the build produced wherever the test binaries run from.</summary>
public static class RepositoryRoot
{
    /// <summary>The nearest folder above the running binaries that contains build.cake.</summary>
    public static string Find()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "build.cake"))) return folder.FullName;
        }
        throw new DirectoryNotFoundException($"no folder containing build.cake above {AppContext.BaseDirectory}");
    }

    /// <summary>
    /// The path of a file the build writes under artifacts/, checked to exist so a test that runs before the
    /// Image target says what to do instead of failing inside QEMU.
    /// </summary>
    public static string Artifact(string name)
    {
        string path = Path.Combine(Find(), "artifacts", name);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} is missing: build it with `./build.sh --target=Image`", path);
        }
        return path;
    }
}

using System.Text;
using Keel.Runtime;

namespace Keel.Image;

/// <summary>
/// Writes a checked <see cref="Manifest"/> as the text module the control domain reads:
/// <code>
/// keel-manifest 2
/// system exit_when_done=0
/// domain name=blkback module=1 upgrade_module=0 memory=32 weight=256 warp=0 warp_limit=0 unwarp=0 on_crash=restart on_poweroff=destroy cmdline=
/// domain name=hello module=2 upgrade_module=0 memory=16 weight=256 warp=0 warp_limit=0 unwarp=0 on_crash=destroy on_poweroff=destroy cmdline=hello
/// pci domain=blkback sbdf=32
/// disk domain=hello backend=blkback vdev=xvda access=rw target=0 start=0 sectors=0
/// end domains=2 pci=1 disks=1
/// </code>
/// one domain a line, every default written out, the command line percent-encoded so that its spaces
/// survive; then every domain's PCI devices and then every domain's disks, each in domain order, named by
/// their domain (the reader turns names into indexes). The grammar and every limit are given once, at the top of runtime/Manifest.cs, whose reader is
/// the format's definition: before the text is returned that reader reads it, so a manifest it would refuse
/// fails the build instead of the boot.
/// </summary>
public static class ManifestText
{
    public static string Write(Manifest manifest)
    {
        var s = new StringBuilder();
        s.Append("keel-manifest ").Append(ManifestLimits.FormatVersion).Append('\n');
        s.Append("system exit_when_done=").Append(manifest.ExitWhenDone ? 1 : 0).Append('\n');
        foreach (var d in manifest.Domains)
        {
            s.Append($"domain name={d.Name} module={manifest.ModuleOf(d)} upgrade_module={manifest.UpgradeModuleOf(d)} memory={d.MemoryMiB} weight={d.Weight}");
            s.Append($" warp={d.WarpMs} warp_limit={d.WarpLimitMs} unwarp={d.UnwarpMs}");
            s.Append($" on_crash={ActionName(d.OnCrash)} on_poweroff={ActionName(d.OnPoweroff)} cmdline=");
            AppendEncoded(s, d);
            s.Append('\n');
        }
        foreach (var d in manifest.Domains)
        {
            foreach (var device in d.Pci) s.Append($"pci domain={d.Name} sbdf={device.Sbdf}\n");
        }
        foreach (var d in manifest.Domains)
        {
            foreach (var disk in d.Disks)
            {
                s.Append($"disk domain={d.Name} backend={disk.Backend} vdev={disk.VdevName} access={(disk.Writable ? "rw" : "ro")}");
                s.Append($" target={disk.Target} start={disk.StartSector} sectors={disk.Sectors}\n");
            }
        }
        s.Append($"end domains={manifest.Domains.Count} pci={manifest.Domains.Sum(d => d.Pci.Count)} disks={manifest.Domains.Sum(d => d.Disks.Count)}\n");

        string text = s.ToString();
        var error = Keel.Runtime.Manifest.TryRead(Encoding.ASCII.GetBytes(text), out _);
        if (error.IsError)
            throw new BuildException($"the control domain would refuse this manifest: line {error.Line}: {Keel.Runtime.Manifest.Describe(error.Problem)}");
        return text;
    }

    private static string ActionName(DomainAction action) => action switch
    {
        DomainAction.Destroy => "destroy",
        DomainAction.Restart => "restart",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "no such action"),
    };

    /// <summary>Space and '%' as %20 and %25; nothing else needs encoding in a printable-ASCII command line.</summary>
    private static void AppendEncoded(StringBuilder s, DomainSpec domain)
    {
        foreach (char c in domain.CommandLine)
        {
            if (c is ' ' or '%') s.Append('%').Append(((int)c).ToString("X2"));
            else if (c > ' ' && c <= '~') s.Append(c);
            else throw new BuildException($"domain {domain.Name}: its command line holds U+{(int)c:X4}, which is not printable ASCII");
        }
    }
}

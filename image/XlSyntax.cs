using System.Globalization;
using System.Text.RegularExpressions;
using Keel.Runtime;

namespace Keel.Image;

/// <summary>
/// The strings of xl.cfg's pci and disk lists, parsed as xl parses them where Keel can follow, refused with
/// a reason where it cannot. Each problem is added to a list as a sentence fragment about the string, so the
/// loader can put the file position and the domain in front of it and still report every one.
/// </summary>
internal static partial class XlSyntax
{
    /// <summary>xl-disk-configuration(5)'s positional parameters, in the order they are assigned.</summary>
    private static readonly string[] Positional = ["target", "format", "vdev", "access"];

    private static readonly string[] DiskKeys = ["backend", "vdev", "access", "target", "format", "devtype"];

    /// <summary>The formats xl knows; only raw exists here, the rest are named so they are refused as formats.</summary>
    private static readonly string[] Formats = ["raw", "qcow", "qcow2", "vhd", "qed"];

    /// <summary>xl-disk-configuration(5)'s bare-word flags, none of which a Keel disk has.</summary>
    private static readonly string[] Flags = ["cdrom", "discard", "no-discard", "direct-io-safe", "trusted", "untrusted"];

    /// <summary>
    /// A PCI_SPEC_STRING of xl-pci-configuration(5) that is a BDF alone, "[DDDD:]BB:DD.F" in hex (also as
    /// "bdf=..."). Its options (",key=value", "@vslot") configure pciback and HVM passthrough, which Keel has
    /// not, so they are refused rather than ignored.
    /// </summary>
    public static PciAddress? ParsePci(string spec, List<string> problems)
    {
        string bdf = spec.Trim();
        if (bdf.StartsWith("bdf=", StringComparison.Ordinal)) bdf = bdf[4..].Trim();
        int extra = bdf.IndexOfAny([',', '@']);
        if (extra >= 0)
        {
            problems.Add(bdf[extra] == '@'
                ? "a virtual slot (@VSLOT) is not supported: a PV driver domain sees the device at its own BDF; give the BDF alone"
                : $"options (\"{bdf[(extra + 1)..].Trim()}\") are not supported: they configure pciback and HVM passthrough; give the BDF alone");
            return null;
        }
        var match = BdfPattern().Match(bdf);
        if (!match.Success)
        {
            problems.Add("this is not a BDF: write [DDDD:]BB:DD.F in hex, as lspci prints it (\"00:04.0\")");
            return null;
        }
        int before = problems.Count;
        int segment = match.Groups[1].Success ? Hex(match.Groups[1].Value) : 0;
        int bus = Hex(match.Groups[2].Value), device = Hex(match.Groups[3].Value), function = Hex(match.Groups[4].Value);
        if (segment != 0) problems.Add($"segment {segment:x4} is not 0000: Keel knows PCI segment 0 only");
        if (device > 0x1f) problems.Add($"device {device:x2} is beyond 1f, the last device on a bus");
        if (function > 7) problems.Add($"function {function:x} is beyond 7, the last function of a device");
        return problems.Count > before ? null : new PciAddress(bus, device, function);
    }

    /// <summary>
    /// A DISKSPEC of xl-disk-configuration(5): comma-separated parameters, each "key=value" or positional,
    /// positional ones filling target, format, vdev and access in that order (skipping those given by name),
    /// each parameter at most once, an empty value meaning the default. Keel adds one thing: as in xl's
    /// deprecated "FORMAT:TARGET,VDEV,ACCESS" form, the format may be left out of the positional list, so a
    /// positional parameter arriving at the format's place that is not a format name is taken as the vdev
    /// ("vda,xvda,w"); a vdev can never be a format name, so nothing xl reads otherwise is read differently.
    /// </summary>
    public static DiskSpec? ParseDisk(string spec, string defaultBackend, List<string> problems)
    {
        int before = problems.Count;
        var values = Parameters(spec, problems);
        string? Value(string key) => values.TryGetValue(key, out string? value) && value.Length > 0 ? value : null;

        string backend = Value("backend") ?? defaultBackend;
        if (!ManifestLoader.IsName(backend))
            problems.Add($"backend = \"{backend}\" is not a domain name (1 to {ManifestLimits.MaxNameBytes} of a-z, 0-9 and -)");
        int? vdev = Vdev(Value("vdev"), problems);
        bool? writable = Value("access") switch
        {
            null or "w" or "rw" => true,
            "r" or "ro" => false,
            var access => Problem<bool?>(problems, $"access = \"{access}\" must be r or ro (read-only), or w or rw (read-write)"),
        };
        string? format = Value("format");
        if (format is not (null or "raw"))
            problems.Add(Formats.Contains(format) ? $"format = \"{format}\" is not supported: a Keel disk is raw sectors" : $"format = \"{format}\" is not a format xl knows (raw)");
        string? devtype = Value("devtype");
        if (devtype is not (null or "disk"))
            problems.Add($"devtype = \"{devtype}\" is not supported: a Keel virtual disk is devtype=disk");
        var target = Target(Value("target"), problems);

        if (problems.Count > before) return null;
        return new DiskSpec(backend, vdev!.Value, writable!.Value, target!.Value.Index, target.Value.Start, target.Value.Count);
    }

    /// <summary>The spec's parameters by name, positional ones given theirs; what cannot be placed is a problem.</summary>
    private static Dictionary<string, string> Parameters(string spec, List<string> problems)
    {
        var values = new Dictionary<string, string>();
        int next = 0;
        foreach (string part in spec.Split(','))
        {
            string parameter = part.Trim(), key;
            string value = parameter;
            int equals = parameter.IndexOf('=');
            if (equals >= 0)
            {
                key = parameter[..equals].Trim();
                value = parameter[(equals + 1)..].Trim();
                if (!DiskKeys.Contains(key))
                {
                    problems.Add($"\"{key}\" is not a disk key Keel knows; they are {string.Join(", ", DiskKeys)}");
                    continue;
                }
            }
            else if (Flags.Contains(parameter))
            {
                problems.Add($"xl's flag \"{parameter}\" is not supported: a Keel virtual disk is a plain read-write or read-only disk");
                continue;
            }
            else
            {
                while (next < Positional.Length && (values.ContainsKey(Positional[next]) || (Positional[next] == "format" && parameter.Length > 0 && !Formats.Contains(parameter))))
                    next++;
                if (next == Positional.Length)
                {
                    if (parameter.Length > 0) problems.Add($"\"{parameter}\" is one positional parameter too many (they are target, format, vdev, access)");
                    continue;
                }
                key = Positional[next++];
            }
            if (!values.TryAdd(key, value)) problems.Add($"{key} is given twice");
        }
        return values;
    }

    /// <summary>xl.cfg's Xen virtual disk names: xvd and one letter. A PV guest has no emulated hd or sd disks.</summary>
    private static int? Vdev(string? vdev, List<string> problems)
    {
        if (vdev is null) return Problem<int?>(problems, "it has no vdev: name the guest's disk, xvda to xvdz");
        var match = VdevPattern().Match(vdev);
        if (match.Success) return match.Groups[1].Value[0] - 'a';
        return Problem<int?>(problems, vdev.StartsWith("hd", StringComparison.Ordinal) || vdev.StartsWith("sd", StringComparison.Ordinal)
            ? $"vdev = \"{vdev}\" is an emulated disk's name; a PV guest sees Xen virtual disks only: name it xvda to xvdz"
            : $"vdev = \"{vdev}\" must be xvd and one letter, xvda to xvdz");
    }

    /// <summary>The back-end's disk vdN, optionally with a range ":START+COUNT" of 512-byte sectors.</summary>
    private static (int Index, long Start, long Count)? Target(string? target, List<string> problems)
    {
        if (target is null) return Problem<(int, long, long)?>(problems, "it has no target: name the back-end's disk (vda, vdb, ...)");
        var match = TargetPattern().Match(target);
        if (!match.Success)
            return Problem<(int, long, long)?>(problems, $"target = \"{target}\" must be the back-end's disk vda, vdb, ... optionally with a sector range, vda:START+COUNT");
        int index = match.Groups[1].Value[0] - 'a';
        if (!match.Groups[2].Success) return (index, 0, 0);
        bool startRead = long.TryParse(match.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out long start);
        bool countRead = long.TryParse(match.Groups[3].Value, NumberStyles.None, CultureInfo.InvariantCulture, out long count);
        if (!startRead || !countRead || start > ManifestLimits.MaxDiskSectors || count > ManifestLimits.MaxDiskSectors - start)
            return Problem<(int, long, long)?>(problems, $"target = \"{target}\": the range passes sector 2^40 ({ManifestLimits.MaxDiskSectors}), beyond any disk");
        if (count == 0)
            return Problem<(int, long, long)?>(problems, $"target = \"{target}\": the range has no sectors; COUNT must be at least 1 (leave the range out for the whole disk)");
        return (index, start, count);
    }

    private static T? Problem<T>(List<string> problems, string problem)
    {
        problems.Add(problem);
        return default;
    }

    private static int Hex(string digits) => int.Parse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    [GeneratedRegex("^(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\\.([0-9a-fA-F])$")]
    private static partial Regex BdfPattern();

    [GeneratedRegex("^xvd([a-z])$")]
    private static partial Regex VdevPattern();

    [GeneratedRegex("^vd([a-z])(?::([0-9]+)\\+([0-9]+))?$")]
    private static partial Regex TargetPattern();
}

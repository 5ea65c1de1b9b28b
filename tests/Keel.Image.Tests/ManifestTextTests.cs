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

    private const string Header = "keel-manifest 1\nsystem exit_when_done=0\n";
    private const string HelloLine =
        "domain name=hello module=1 memory=16 weight=256 warp=0 warp_limit=0 unwarp=0 on_crash=destroy on_poweroff=destroy cmdline=hello";

    private static ManifestError Read(string text, out RuntimeManifest manifest) => RuntimeManifest.TryRead(Encoding.ASCII.GetBytes(text), out manifest);

    private static ManifestError Refusal(string text)
    {
        var error = Read(text, out var manifest);
        Assert.True(error.IsError, "the reader accepted it");
        Assert.Null(manifest);
        return error;
    }

    /// <summary>Everything the control domain will act on, as the writer meant it and as the reader found it.</summary>
    private static IEnumerable<object> Written(Manifest manifest) =>
        manifest.Domains.Select(d => (object)(d.Name, manifest.ModuleOf(d), d.MemoryMiB, d.Weight, d.WarpMs, d.WarpLimitMs, d.UnwarpMs, d.OnCrash, d.OnPoweroff, d.CommandLine));

    private static IEnumerable<object> Read(RuntimeManifest manifest) =>
        manifest.Domains.Select(d => (object)(d.Name, d.Module, d.MemoryMiB, d.Weight, d.WarpMs, d.WarpLimitMs, d.UnwarpMs, d.OnCrash, d.OnPoweroff, d.CommandLine));

    private static RuntimeManifest RoundTrip(Manifest manifest)
    {
        var error = Read(ManifestText.Write(manifest), out var read);
        Assert.False(error.IsError, $"line {error.Line}: {RuntimeManifest.Describe(error.Problem)}");
        return read;
    }

    [Fact]
    public void The_hello_manifest_is_written_as_four_lines_with_every_default_spelt_out()
    {
        var manifest = new Manifest(false, null, [new DomainSpec("hello", TestDomain, 16, "hello")]);
        Assert.Equal(Header + HelloLine + "\nend domains=1\n", ManifestText.Write(manifest));
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
        string reordered = "domain cmdline=a%2Fb on_poweroff=destroy on_crash=restart unwarp=3 warp_limit=2 warp=1 weight=9 memory=4 module=7 name=x";
        Assert.False(Read(Header + reordered + "\nend domains=1\n\0\0\0\0", out var manifest).IsError);
        var domain = Assert.Single(manifest.Domains);
        Assert.Equal(("x", 7, 4, 9, 1, 2, 3, DomainAction.Restart, "a/b"),
            (domain.Name, domain.Module, domain.MemoryMiB, domain.Weight, domain.WarpMs, domain.WarpLimitMs, domain.UnwarpMs, domain.OnCrash, domain.CommandLine));
        Assert.False(Read(Header.Replace("=0", "=1") + "end domains=0\n", out var empty).IsError);
        Assert.True(empty.ExitWhenDone);
        Assert.Empty(empty.Domains);
    }

    [Theory]
    [InlineData("", ManifestProblem.BadHeader, 1)]
    [InlineData("keel-manifest 2\nsystem exit_when_done=0\nend domains=0\n", ManifestProblem.BadHeader, 1)]
    [InlineData("keel-manifest 1\n", ManifestProblem.MissingSystem, 2)]
    [InlineData("keel-manifest 1\nsystem\nend domains=0\n", ManifestProblem.MissingKey, 2)]
    [InlineData("keel-manifest 1\nsystem exit_when_done=2\nend domains=0\n", ManifestProblem.OutOfRange, 2)]
    [InlineData("keel-manifest 1\nsystem exit_when_done=0 exit_when_done=0\nend domains=0\n", ManifestProblem.RepeatedKey, 2)]
    [InlineData("keel-manifest 1\r\nsystem exit_when_done=0\nend domains=0\n", ManifestProblem.BadCharacter, 1)]
    [InlineData(Header + "end domains=0", ManifestProblem.UnterminatedLine, 3)]
    [InlineData(Header, ManifestProblem.MissingEnd, 3)]
    [InlineData(Header + HelloLine + "\n", ManifestProblem.MissingEnd, 4)]
    [InlineData(Header + HelloLine + "\nend domains=2\n", ManifestProblem.CountMismatch, 4)]
    [InlineData(Header + "end domains=0\nend domains=0\n", ManifestProblem.TextAfterEnd, 4)]
    [InlineData(Header + "end domains=0\n\0\0x", ManifestProblem.TextAfterEnd, 4)]
    [InlineData(Header + "domain\nend domains=1\n", ManifestProblem.MissingKey, 3)]
    [InlineData(Header + "vm name=x\nend domains=0\n", ManifestProblem.UnknownRecord, 3)]
    [InlineData(Header + "domainname=x\nend domains=0\n", ManifestProblem.UnknownRecord, 3)]
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
    [InlineData("module=1", "module=1025", ManifestProblem.OutOfRange)]
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
        var error = Refusal(Header + HelloLine.Replace(field, replacement) + "\nend domains=1\n");
        Assert.Equal((problem, 3), (error.Problem, error.Line));
    }

    [Fact]
    public void The_reader_refuses_over_long_lines_command_lines_and_domain_lists()
    {
        var longLine = Refusal(Header + HelloLine + new string('x', ManifestLimits.MaxLineBytes) + "\nend domains=1\n");
        Assert.Equal((ManifestProblem.LineTooLong, 3), (longLine.Problem, longLine.Line));
        var longCommandLine = Refusal(Header + HelloLine.Replace("cmdline=hello", "cmdline=" + new string('x', 1024)) + "\nend domains=1\n");
        Assert.Equal(ManifestProblem.BadCommandLine, longCommandLine.Problem);
        var full = Enumerable.Range(0, 129).Select(i => HelloLine.Replace("name=hello", $"name=d{i}").Replace("cmdline=hello", "cmdline=" + new string('x', 1017)));
        var tooMuch = Refusal(Header + string.Join("\n", full) + "\nend domains=129\n");
        Assert.Equal((ManifestProblem.CommandLinesTooLong, 131), (tooMuch.Problem, tooMuch.Line));
        var lines = Enumerable.Range(0, 1025).Select(i => HelloLine.Replace("name=hello", $"name=d{i}"));
        var tooMany = Refusal(Header + string.Join("\n", lines) + "\nend domains=1025\n");
        Assert.Equal((ManifestProblem.TooManyDomains, 1027), (tooMany.Problem, tooMany.Line));
        var twice = Refusal(Header + HelloLine + "\n" + HelloLine.Replace("module=1", "module=2") + "\nend domains=2\n");
        Assert.Equal((ManifestProblem.DuplicateName, 4), (twice.Problem, twice.Line));
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
        select new DomainSpec(name, kernel, memory, commandLine, weight, warp, limit, unwarp, onCrash);

    private static Arbitrary<Manifest> Manifests() =>
        (from exit in Gen.Elements(true, false)
         from domains in Domains().ListOf()
         select new Manifest(exit, null, domains.DistinctBy(d => d.Name).ToList())).ToArbitrary();

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

    /// <summary>Random bytes are refused on line 1; damage to a good module reaches every later check.</summary>
    [FsCheck.Xunit.Property(MaxTest = 2000)]
    public Property A_damaged_good_module_never_makes_the_reader_throw() =>
        Prop.ForAll(Damage(), bytes => Consistent(RuntimeManifest.TryRead(bytes, out var manifest), manifest));

    private static bool Consistent(ManifestError error, RuntimeManifest manifest) =>
        error.IsError
            ? manifest is null && error.Line >= 1
            : manifest is not null && manifest.Domains.Length <= ManifestLimits.MaxDomains && manifest.Domains.All(d => d.Name is not null && d.CommandLine is not null);

    private static Arbitrary<byte[]> Damage()
    {
        byte[] good = Encoding.ASCII.GetBytes(ManifestText.Write(new Manifest(true, null, [
            new DomainSpec("hello", TestDomain, 16, "hello world"),
            new DomainSpec("second", Other, 32, "100%", 512, 10, 5, 20, DomainAction.Restart),
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

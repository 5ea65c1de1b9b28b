using System.Text.RegularExpressions;

namespace Keel.System.Tests;

/// <summary>
/// The lines the kernel promises to print on its serial console, in the order it prints them.
/// Addresses are hexadecimal with a 0x prefix.
/// </summary>
internal static partial class SerialContract
{
    /// <summary>How long firmware, GRUB and the kernel may take to reach the first kernel line under TCG on a loaded machine.</summary>
    public static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(120);

    /// <summary>How long any later line may take: each comes within seconds, the rest is margin for a busy host.</summary>
    public static readonly TimeSpan LineTimeout = TimeSpan.FromSeconds(60);

    [GeneratedRegex(@"^Keel (?<version>\d+\.\d+\.\d+\S*) \(x86-64\)$")]
    public static partial Regex Banner();

    [GeneratedRegex(@"^boot: loader ""(?<loader>[^""]*)"" command line ""(?<cmdline>[^""]*)""$")]
    public static partial Regex Boot();

    [GeneratedRegex(@"^display: (?<kind>EGA text|framebuffer) (?<width>\d+)x(?<height>\d+) at 0x[0-9a-fA-F]+; console on (?<where>the screen and the serial port|the serial port only)$")]
    public static partial Regex Display();

    [GeneratedRegex(@"^memory: (?<mib>\d+) MiB usable in (?<ranges>\d+) ranges; kernel image (?<start>0x[0-9a-fA-F]+)-(?<end>0x[0-9a-fA-F]+)")]
    public static partial Regex Memory();

    [GeneratedRegex(@"^module: symbols (?<start>0x[0-9a-fA-F]+)-(?<end>0x[0-9a-fA-F]+) \((?<kib>\d+) KiB\)$")]
    public static partial Regex SymbolsModule();

    [GeneratedRegex(@"^timer: local APIC (?<rate>\d+) ticks per ms \(calibrated against the PIT\), periodic at 100 Hz$")]
    public static partial Regex TimerCalibrated();

    [GeneratedRegex(@"^timer: (?<ticks>\d+) ticks in (?<ms>\d+) ms by the TSC$")]
    public static partial Regex TimerTicks();

    [GeneratedRegex(@"^clock: (?<when>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC$")]
    public static partial Regex Clock();

    [GeneratedRegex(@"^keel: ready$")]
    public static partial Regex Ready();

    [GeneratedRegex(@"KERNEL FAULT: #PF page fault \(vector 14\)")]
    public static partial Regex PageFault();

    [GeneratedRegex(@"cr2 0x00000000deadb000")]
    public static partial Regex FaultAddress();

    [GeneratedRegex(@"^rip 0x[0-9a-fA-F]+")]
    public static partial Regex FaultRip();

    [GeneratedRegex(@"^bytes at rip:")]
    public static partial Regex FaultBytes();

    [GeneratedRegex(@"^\*\*\* UNHANDLED EXCEPTION: System\.InvalidOperationException$")]
    public static partial Regex UnhandledInvalidOperation();

    [GeneratedRegex(@"^message: deliberate exception from keel\.fault=throw$")]
    public static partial Regex DeliberateExceptionMessage();

    [GeneratedRegex(@"^thrown at 0x[0-9a-fA-F]+ <\S*DeliberateFaults__Raise\+0x[0-9a-fA-F]+>")]
    public static partial Regex ThrowSite();

    [GeneratedRegex(@"KERNEL FAULT: #DF double fault \(vector 8\)")]
    public static partial Regex DoubleFault();

    [GeneratedRegex(@"^cr2 is in the kernel stack's guard page: the kernel stack overflowed$")]
    public static partial Regex StackGuardHit();

    [GeneratedRegex(@"^\*\*\* stopping the machine$")]
    public static partial Regex Stopping();

    [GeneratedRegex(@"^keel: keel\.exit: shutting down$")]
    public static partial Regex ShuttingDown();

    /// <summary>QEMU's exit status when the kernel writes 0x10 to isa-debug-exit to shut down cleanly: (0x10 &lt;&lt; 1) | 1.</summary>
    [GeneratedRegex(@"^keel: dom0 built: (?<mib>\d+) MiB, entry 0x[0-9a-f]+; frames free (?<before>\d+) before, (?<after>\d+) after$")]
    public static partial Regex InitialDomainBuilt();

    [GeneratedRegex(@"^keel: domain (?<id>\d+) \((?<name>[^)]+)\) shut down: (?<reason>\w+)$")]
    public static partial Regex DomainShutDown();

    [GeneratedRegex(@"^\*\*\* domain (?<id>\d+) \((?<name>[^)]+)\) crashed: (?<why>.+)$")]
    public static partial Regex DomainCrashed();

    [GeneratedRegex(@"^exception: (?<name>#\w\w [a-z -]+) \(vector (?<vector>\d+)\)")]
    public static partial Regex GuestException();

    [GeneratedRegex(@"^keel: (?<free>\d+) frames free; (?<alive>\d+) domains running$")]
    public static partial Regex FramesAfterDomainEnded();

    [GeneratedRegex(@"^keel: no domain is running$")]
    public static partial Regex NoDomainRunning();

    [GeneratedRegex(@"^serial: input on IRQ 4 through the I/O APIC \((?<pins>\d+) pins\), a 1024-byte ring for dom0$")]
    public static partial Regex SerialInputOn();

    [GeneratedRegex(@"^keel: serial input goes to dom0 \(Ctrl-A three times gives it to the kernel\)$")]
    public static partial Regex InputToControlDomain();

    [GeneratedRegex(@"^keel: serial input goes to the kernel: 'h' lists its keys \(Ctrl-A three times gives it back to dom0\)$")]
    public static partial Regex InputToKernel();

    /// <summary>The kernel's 'q' key: one line a domain.</summary>
    [GeneratedRegex(@"^keel: domain (?<id>\d+) \((?<name>[^)]+)\): (?<state>[a-z :]+?)(?<paused>, paused)?, (?<pages>\d+) pages, weight (?<weight>\d+)$")]
    public static partial Regex DomainState();

    [GeneratedRegex(@"^keel: (?<alive>\d+) of (?<count>\d+) domains alive$")]
    public static partial Regex DomainsAlive();

    [GeneratedRegex(@"^keel: keys: 'h' this list, 'q' domains")]
    public static partial Regex KeyList();

    /// <summary>A line a guest printed through console_io: "(name) text".</summary>
    public static Regex GuestLine(string name, string text) => new($"^\\({Regex.Escape(name)}\\) {text}$");

    public const int CleanShutdownExitStatus = 33;

    /// <summary>The control domain ended without powering off: a guest crashed or did not power off (isa-debug-exit 0x12).</summary>
    public const int DomainFailureExitStatus = 37;

    /// <summary>QEMU's exit status when the kernel writes 0x11 to isa-debug-exit after a fatal fault: (0x11 &lt;&lt; 1) | 1.</summary>
    public const int FatalFaultExitStatus = 35;

    public static ulong Hex(Group group) => Convert.ToUInt64(group.Value, 16);

    public static long Number(Group group) => long.Parse(group.Value, global::System.Globalization.CultureInfo.InvariantCulture);
}

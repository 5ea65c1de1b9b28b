// The system manifest as the control domain receives it: a boot module of plain ASCII text that the image
// tool writes (image/ManifestText.cs) from the TOML manifest it has already checked. The module can be
// replaced by anyone who can change the boot medium, so this reader trusts nothing in it: every line and
// value is bounded, every value is checked against the same limits the image tool applies, and a bad module
// yields a problem and its line number, never a throw.
//
// The format, version 1. Lines end in LF (no CR); each is at most ManifestLimits.MaxLineBytes bytes
// including the LF; the text is printable ASCII apart from the LFs.
//
//   keel-manifest 1
//   system exit_when_done=1
//   domain name=hello module=1 memory=16 weight=256 warp=0 warp_limit=0 unwarp=0 on_crash=destroy on_poweroff=destroy cmdline=hello%20world
//   end domains=1
//
// - Line 1 is exactly "keel-manifest 1"; line 2 is the one "system" line; then up to ManifestLimits.MaxDomains
//   "domain" lines, one per domain in the order they are to be built; then "end domains=N", N being the
//   number of domain lines, so that a truncated module is noticed. Anything after the end line must be NUL
//   bytes (a module handed over in whole pages is padded with zeros).
// - After the record word come fields "key=value", separated by single spaces. Every key of the record
//   must be there exactly once, in any order: the image tool has already filled in every default, so the
//   control domain applies no policy of its own.
// - Numbers are decimal digits without sign or leading zeros, at most 7 digits.
// - system: exit_when_done is 0 or 1 (1: shut the machine down once every guest has ended).
// - domain: name is 1 to 32 of [a-z0-9-], neither "dom0" nor "control", and unique; module is the boot
//   module holding the domain's PV64 kernel, counted from the manifest's own module, which is 0 (the image
//   tool lists the manifest and then each distinct kernel once, consecutively, as "manifest" and
//   "kernel NAME"); memory is in MiB; weight is the BVT weight; warp, warp_limit and unwarp are BVT's
//   W, L and U in ms (warp 0 turns warping off and then the other two are 0; a warp_limit needs an unwarp
//   time, as the scheduler requires); on_crash is destroy or restart, on_poweroff is destroy; cmdline is
//   the command line, percent-encoded: "%" followed by two hex digits stands for that byte, every other
//   byte stands for itself and must be printable ASCII other than space and "%". Decoded, it is printable
//   ASCII (space included) of at most ManifestLimits.MaxCommandLineBytes bytes, and may be empty; all the
//   domains' command lines together are at most ManifestLimits.MaxCommandLineTotalBytes.
//
// What reading costs: one array of exactly as many entries as there are domain lines, a string per name and
// per command line, nothing else; for a manifest at every limit, under 512 KiB of the domain's heap.

using System;

namespace Keel.Runtime
{
    /// <summary>The bounds every manifest obeys; the image tool checks the TOML against these same numbers.</summary>
    public static class ManifestLimits
    {
        public const int MaxDomains = 1024;
        public const int MaxNameBytes = 32;
        public const int MinMemoryMiB = 4;
        public const int MaxMemoryMiB = 65536;

        /// <summary>start_info's command line is 1024 bytes with its terminating NUL.</summary>
        public const int MaxCommandLineBytes = 1023;

        /// <summary>
        /// All command lines together (128 full ones): the reader keeps each as a string, and a domain's heap
        /// is 1 MiB, so without this bound a module of 1024 full command lines would exhaust the control domain.
        /// </summary>
        public const int MaxCommandLineTotalBytes = 128 * 1024;

        public const int MinWeight = 1;
        public const int MaxWeight = 65535;

        /// <summary>Xen's credit scheduler gives every domain this weight unless told otherwise.</summary>
        public const int DefaultWeight = 256;

        /// <summary>BVT's warp, warp limit and unwarp time, in ms; the scheduler takes up to 2^40 ns.</summary>
        public const int MaxWarpMs = 1000000;

        /// <summary>The longest line: a 32-byte name, a command line whose every byte is encoded, the rest.</summary>
        public const int MaxLineBytes = 4096;

        /// <summary>The version the first line names.</summary>
        public const int FormatVersion = 1;
    }

    /// <summary>What happens to a domain when it ends (xl.cfg's on_crash, on_poweroff).</summary>
    public enum DomainAction : byte
    {
        Destroy,
        Restart,
    }

    /// <summary>One domain the control domain is to build.</summary>
    public struct ManifestDomain
    {
        public string Name;

        /// <summary>The kernel's boot module, counted from the manifest's module (0).</summary>
        public int Module;

        public int MemoryMiB;
        public int Weight;
        public int WarpMs;
        public int WarpLimitMs;
        public int UnwarpMs;
        public DomainAction OnCrash;
        public DomainAction OnPoweroff;

        /// <summary>Decoded: printable ASCII, possibly empty.</summary>
        public string CommandLine;
    }

    /// <summary>Why a manifest module was refused. <see cref="Manifest.Describe"/> gives each as a sentence.</summary>
    public enum ManifestProblem
    {
        None,
        BadHeader,
        LineTooLong,
        UnterminatedLine,
        BadCharacter,
        UnknownRecord,
        MalformedField,
        UnknownKey,
        RepeatedKey,
        MissingKey,
        BadNumber,
        OutOfRange,
        BadName,
        ReservedName,
        DuplicateName,
        BadAction,
        BadCommandLine,
        CommandLinesTooLong,
        BadWarp,
        MissingSystem,
        TooManyDomains,
        MissingEnd,
        CountMismatch,
        TextAfterEnd,
    }

    /// <summary>A problem and the 1-based line it was found on.</summary>
    public readonly struct ManifestError
    {
        public readonly ManifestProblem Problem;
        public readonly int Line;

        public ManifestError(ManifestProblem problem, int line)
        {
            Problem = problem;
            Line = line;
        }

        public bool IsError => Problem != ManifestProblem.None;
    }

    /// <summary>The control domain's view of the system: what to build, and what to do when all is done.</summary>
    public sealed class Manifest
    {
        public bool ExitWhenDone { get; private set; }

        /// <summary>In the order they are to be built; exactly as many as the module lists.</summary>
        public ManifestDomain[] Domains { get; private set; }

        // Bits of the keys seen on the line being read, so a repeated or missing key is caught.
        private const int NameKey = 1, ModuleKey = 2, MemoryKey = 4, WeightKey = 8, WarpKey = 16, WarpLimitKey = 32,
            UnwarpKey = 64, OnCrashKey = 128, OnPoweroffKey = 256, CommandLineKey = 512, AllDomainKeys = 1023;

        private const int MaxDigits = 7;

        /// <summary>Reads a manifest module. On success manifest is set and the error is None; otherwise manifest
        /// is null and the error names the first problem and its line.</summary>
        public static ManifestError TryRead(ReadOnlySpan<byte> text, out Manifest manifest)
        {
            manifest = null;
            var lines = new LineReader(text);
            ReadOnlySpan<byte> line;

            ManifestProblem problem = lines.Next(out line);
            if (problem == ManifestProblem.MissingEnd) problem = ManifestProblem.BadHeader;
            if (problem != ManifestProblem.None) return new ManifestError(problem, lines.Number);
            if (!Equal(line, "keel-manifest 1"u8)) return new ManifestError(ManifestProblem.BadHeader, lines.Number);

            problem = lines.Next(out line);
            if (problem == ManifestProblem.MissingEnd) problem = ManifestProblem.MissingSystem;
            if (problem != ManifestProblem.None) return new ManifestError(problem, lines.Number);
            if (!StartsWithWord(line, "system"u8)) return new ManifestError(ManifestProblem.MissingSystem, lines.Number);
            var result = new Manifest();
            problem = result.ReadSystem(line.Slice(6));
            if (problem != ManifestProblem.None) return new ManifestError(problem, lines.Number);

            var domains = new ManifestDomain[Math.Min(CountDomainLines(text), ManifestLimits.MaxDomains)];
            int count = 0, commandLineBytes = 0;
            while (true)
            {
                problem = lines.Next(out line);
                if (problem != ManifestProblem.None) return new ManifestError(problem, lines.Number);
                if (StartsWithWord(line, "end"u8))
                {
                    problem = ReadEnd(line.Slice(3), count);
                    if (problem != ManifestProblem.None) return new ManifestError(problem, lines.Number);
                    if (!lines.RestIsPadding()) return new ManifestError(ManifestProblem.TextAfterEnd, lines.Number + 1);
                    break;
                }
                if (!StartsWithWord(line, "domain"u8)) return new ManifestError(ManifestProblem.UnknownRecord, lines.Number);
                if (count == domains.Length) return new ManifestError(ManifestProblem.TooManyDomains, lines.Number);
                problem = ReadDomain(line.Slice(6), out domains[count]);
                if (problem == ManifestProblem.None && NameTaken(domains, count)) problem = ManifestProblem.DuplicateName;
                if (problem != ManifestProblem.None) return new ManifestError(problem, lines.Number);
                commandLineBytes += domains[count].CommandLine.Length;
                if (commandLineBytes > ManifestLimits.MaxCommandLineTotalBytes) return new ManifestError(ManifestProblem.CommandLinesTooLong, lines.Number);
                count++;
            }

            // Every domain line comes before the end line (only NULs may follow it) and was read, so the array is full.
            result.Domains = domains;
            manifest = result;
            return new ManifestError(ManifestProblem.None, 0);
        }

        public static string Describe(ManifestProblem problem) => problem switch
        {
            ManifestProblem.None => "no problem",
            ManifestProblem.BadHeader => "the first line is not \"keel-manifest 1\"",
            ManifestProblem.LineTooLong => "the line is longer than 4096 bytes",
            ManifestProblem.UnterminatedLine => "the last line has no line feed",
            ManifestProblem.BadCharacter => "the line holds a byte that is not printable ASCII",
            ManifestProblem.UnknownRecord => "the line is neither a domain line nor the end line",
            ManifestProblem.MalformedField => "a field is not key=value after a single space",
            ManifestProblem.UnknownKey => "a key is not one this record has",
            ManifestProblem.RepeatedKey => "a key appears twice",
            ManifestProblem.MissingKey => "a key of the record is missing",
            ManifestProblem.BadNumber => "a number is not 1 to 7 decimal digits without leading zeros",
            ManifestProblem.OutOfRange => "a number is outside the range its key allows",
            ManifestProblem.BadName => "a name is not 1 to 32 of a-z, 0-9 and -",
            ManifestProblem.ReservedName => "a domain is named dom0 or control",
            ManifestProblem.DuplicateName => "two domains have the same name",
            ManifestProblem.BadAction => "on_crash is not destroy or restart, or on_poweroff is not destroy",
            ManifestProblem.BadCommandLine => "the command line is badly encoded, not printable ASCII, or longer than 1023 bytes",
            ManifestProblem.CommandLinesTooLong => "the command lines add up to more than 131072 bytes",
            ManifestProblem.BadWarp => "warp_limit or unwarp is set without a warp, or a warp_limit without an unwarp",
            ManifestProblem.MissingSystem => "the second line is not the system line",
            ManifestProblem.TooManyDomains => "there are more than 1024 domain lines",
            ManifestProblem.MissingEnd => "the text ends before the end line",
            ManifestProblem.CountMismatch => "the end line's domain count is not the number of domain lines",
            ManifestProblem.TextAfterEnd => "there is text after the end line",
            _ => "unknown problem",
        };

        private ManifestProblem ReadSystem(ReadOnlySpan<byte> fields)
        {
            bool seen = false;
            var reader = new FieldReader(fields);
            while (!reader.AtEnd)
            {
                ManifestProblem problem = reader.Next(out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value);
                if (problem != ManifestProblem.None) return problem;
                if (!Equal(key, "exit_when_done"u8)) return ManifestProblem.UnknownKey;
                if (seen) return ManifestProblem.RepeatedKey;
                seen = true;
                problem = ReadNumber(value, 0, 1, out int flag);
                if (problem != ManifestProblem.None) return problem;
                ExitWhenDone = flag == 1;
            }
            return seen ? ManifestProblem.None : ManifestProblem.MissingKey;
        }

        private static ManifestProblem ReadEnd(ReadOnlySpan<byte> fields, int count)
        {
            int stated = -1;
            var reader = new FieldReader(fields);
            while (!reader.AtEnd)
            {
                ManifestProblem problem = reader.Next(out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value);
                if (problem != ManifestProblem.None) return problem;
                if (!Equal(key, "domains"u8)) return ManifestProblem.UnknownKey;
                if (stated >= 0) return ManifestProblem.RepeatedKey;
                problem = ReadNumber(value, 0, ManifestLimits.MaxDomains, out stated);
                if (problem != ManifestProblem.None) return problem;
            }
            if (stated < 0) return ManifestProblem.MissingKey;
            return stated == count ? ManifestProblem.None : ManifestProblem.CountMismatch;
        }

        private static ManifestProblem ReadDomain(ReadOnlySpan<byte> fields, out ManifestDomain domain)
        {
            domain = default;
            int seen = 0;
            var reader = new FieldReader(fields);
            while (!reader.AtEnd)
            {
                ManifestProblem problem = reader.Next(out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value);
                if (problem != ManifestProblem.None) return problem;
                int bit = DomainKey(key);
                if (bit == 0) return ManifestProblem.UnknownKey;
                if ((seen & bit) != 0) return ManifestProblem.RepeatedKey;
                seen |= bit;
                problem = ReadDomainValue(bit, value, ref domain);
                if (problem != ManifestProblem.None) return problem;
            }
            if (seen != AllDomainKeys) return ManifestProblem.MissingKey;
            bool warpRuleHolds = domain.WarpMs == 0
                ? domain.WarpLimitMs == 0 && domain.UnwarpMs == 0
                : domain.WarpLimitMs == 0 || domain.UnwarpMs != 0;
            return warpRuleHolds ? ManifestProblem.None : ManifestProblem.BadWarp;
        }

        private static int DomainKey(ReadOnlySpan<byte> key)
        {
            if (Equal(key, "name"u8)) return NameKey;
            if (Equal(key, "module"u8)) return ModuleKey;
            if (Equal(key, "memory"u8)) return MemoryKey;
            if (Equal(key, "weight"u8)) return WeightKey;
            if (Equal(key, "warp"u8)) return WarpKey;
            if (Equal(key, "warp_limit"u8)) return WarpLimitKey;
            if (Equal(key, "unwarp"u8)) return UnwarpKey;
            if (Equal(key, "on_crash"u8)) return OnCrashKey;
            if (Equal(key, "on_poweroff"u8)) return OnPoweroffKey;
            if (Equal(key, "cmdline"u8)) return CommandLineKey;
            return 0;
        }

        private static ManifestProblem ReadDomainValue(int key, ReadOnlySpan<byte> value, ref ManifestDomain domain)
        {
            switch (key)
            {
                case NameKey: return ReadName(value, out domain.Name);
                case ModuleKey: return ReadNumber(value, 1, ManifestLimits.MaxDomains, out domain.Module);
                case MemoryKey: return ReadNumber(value, ManifestLimits.MinMemoryMiB, ManifestLimits.MaxMemoryMiB, out domain.MemoryMiB);
                case WeightKey: return ReadNumber(value, ManifestLimits.MinWeight, ManifestLimits.MaxWeight, out domain.Weight);
                case WarpKey: return ReadNumber(value, 0, ManifestLimits.MaxWarpMs, out domain.WarpMs);
                case WarpLimitKey: return ReadNumber(value, 0, ManifestLimits.MaxWarpMs, out domain.WarpLimitMs);
                case UnwarpKey: return ReadNumber(value, 0, ManifestLimits.MaxWarpMs, out domain.UnwarpMs);
                case OnCrashKey: return ReadAction(value, true, out domain.OnCrash);
                case OnPoweroffKey: return ReadAction(value, false, out domain.OnPoweroff);
                default: return ReadCommandLine(value, out domain.CommandLine);
            }
        }

        private static ManifestProblem ReadNumber(ReadOnlySpan<byte> text, int min, int max, out int value)
        {
            value = 0;
            if (text.Length == 0 || text.Length > MaxDigits || (text[0] == (byte)'0' && text.Length > 1)) return ManifestProblem.BadNumber;
            for (int i = 0; i < text.Length; i++)
            {
                if (text[i] < (byte)'0' || text[i] > (byte)'9') return ManifestProblem.BadNumber;
                value = value * 10 + (text[i] - '0');
            }
            return value >= min && value <= max ? ManifestProblem.None : ManifestProblem.OutOfRange;
        }

        private static ManifestProblem ReadName(ReadOnlySpan<byte> text, out string name)
        {
            name = null;
            if (text.Length == 0 || text.Length > ManifestLimits.MaxNameBytes) return ManifestProblem.BadName;
            for (int i = 0; i < text.Length; i++)
            {
                byte c = text[i];
                if (!((c >= (byte)'a' && c <= (byte)'z') || (c >= (byte)'0' && c <= (byte)'9') || c == (byte)'-')) return ManifestProblem.BadName;
            }
            if (Equal(text, "dom0"u8) || Equal(text, "control"u8)) return ManifestProblem.ReservedName;
            name = Ascii(text);
            return ManifestProblem.None;
        }

        private static ManifestProblem ReadAction(ReadOnlySpan<byte> text, bool restartAllowed, out DomainAction action)
        {
            action = DomainAction.Destroy;
            if (Equal(text, "destroy"u8)) return ManifestProblem.None;
            if (!restartAllowed || !Equal(text, "restart"u8)) return ManifestProblem.BadAction;
            action = DomainAction.Restart;
            return ManifestProblem.None;
        }

        private static ManifestProblem ReadCommandLine(ReadOnlySpan<byte> text, out string commandLine)
        {
            commandLine = null;
            Span<char> decoded = stackalloc char[ManifestLimits.MaxCommandLineBytes];
            int length = 0;
            for (int i = 0; i < text.Length; i++)
            {
                int c = text[i];
                if (c == '%')
                {
                    if (i + 2 >= text.Length) return ManifestProblem.BadCommandLine;
                    int high = HexDigit(text[i + 1]), low = HexDigit(text[i + 2]);
                    if (high < 0 || low < 0) return ManifestProblem.BadCommandLine;
                    c = high * 16 + low;
                    if (c < 0x20 || c > 0x7E) return ManifestProblem.BadCommandLine;
                    i += 2;
                }
                if (length == decoded.Length) return ManifestProblem.BadCommandLine;
                decoded[length++] = (char)c;
            }
            commandLine = new string(decoded.Slice(0, length));
            return ManifestProblem.None;
        }

        private static int HexDigit(byte c)
        {
            if (c >= (byte)'0' && c <= (byte)'9') return c - '0';
            if (c >= (byte)'a' && c <= (byte)'f') return c - 'a' + 10;
            if (c >= (byte)'A' && c <= (byte)'F') return c - 'A' + 10;
            return -1;
        }

        private static bool NameTaken(ManifestDomain[] domains, int index)
        {
            for (int i = 0; i < index; i++)
            {
                if (domains[i].Name == domains[index].Name) return true;
            }
            return false;
        }

        /// <summary>Domain lines, up to one more than allowed, so the array is allocated once and exactly.</summary>
        private static int CountDomainLines(ReadOnlySpan<byte> text)
        {
            int count = 0, start = 0;
            while (start < text.Length && count <= ManifestLimits.MaxDomains)
            {
                int end = start;
                while (end < text.Length && text[end] != (byte)'\n') end++;
                if (StartsWithWord(text.Slice(start, end - start), "domain"u8)) count++;
                start = end + 1;
            }
            return count;
        }

        /// <summary>The line is the word alone or the word, a space and more.</summary>
        private static bool StartsWithWord(ReadOnlySpan<byte> line, ReadOnlySpan<byte> word) =>
            line.Length >= word.Length && Equal(line.Slice(0, word.Length), word) && (line.Length == word.Length || line[word.Length] == (byte)' ');

        private static bool Equal(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
        {
            if (a.Length != b.Length) return false;
            for (int i = 0; i < a.Length; i++)
            {
                if (a[i] != b[i]) return false;
            }
            return true;
        }

        /// <summary>Bytes already checked to be ASCII, as a string.</summary>
        private static string Ascii(ReadOnlySpan<byte> text)
        {
            Span<char> chars = stackalloc char[ManifestLimits.MaxNameBytes];
            for (int i = 0; i < text.Length; i++) chars[i] = (char)text[i];
            return new string(chars.Slice(0, text.Length));
        }

        /// <summary>Splits the text into lines, refusing long, unterminated or non-ASCII ones.</summary>
        private ref struct LineReader
        {
            private readonly ReadOnlySpan<byte> _text;
            private int _offset;

            /// <summary>The 1-based number of the line last returned (or of the one that was refused).</summary>
            public int Number;

            public LineReader(ReadOnlySpan<byte> text)
            {
                _text = text;
                _offset = 0;
                Number = 0;
            }

            /// <summary>The next line without its LF; MissingEnd when the text is used up (or only padding is left).</summary>
            public ManifestProblem Next(out ReadOnlySpan<byte> line)
            {
                line = default;
                Number++;
                if (_offset == _text.Length || _text[_offset] == 0) return ManifestProblem.MissingEnd;
                int end = _offset;
                while (true)
                {
                    if (end - _offset == ManifestLimits.MaxLineBytes) return ManifestProblem.LineTooLong;
                    if (end == _text.Length) return ManifestProblem.UnterminatedLine;
                    byte c = _text[end];
                    if (c == (byte)'\n') break;
                    if (c < 0x20 || c > 0x7E) return ManifestProblem.BadCharacter;
                    end++;
                }
                line = _text.Slice(_offset, end - _offset);
                _offset = end + 1;
                return ManifestProblem.None;
            }

            public bool RestIsPadding()
            {
                for (int i = _offset; i < _text.Length; i++)
                {
                    if (_text[i] != 0) return false;
                }
                return true;
            }
        }

        /// <summary>Splits " key=value key=value" into its fields.</summary>
        private ref struct FieldReader
        {
            private readonly ReadOnlySpan<byte> _fields;
            private int _offset;

            public FieldReader(ReadOnlySpan<byte> fields)
            {
                _fields = fields;
                _offset = 0;
            }

            public bool AtEnd => _offset == _fields.Length;

            public ManifestProblem Next(out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
            {
                key = default;
                value = default;
                if (_fields[_offset] != (byte)' ') return ManifestProblem.MalformedField;
                int start = _offset + 1, equals = -1, end = start;
                while (end < _fields.Length && _fields[end] != (byte)' ')
                {
                    if (equals < 0 && _fields[end] == (byte)'=') equals = end;
                    end++;
                }
                if (equals <= start) return ManifestProblem.MalformedField;
                key = _fields.Slice(start, equals - start);
                value = _fields.Slice(equals + 1, end - equals - 1);
                _offset = end;
                return ManifestProblem.None;
            }
        }
    }
}

using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.RegularExpressions;

namespace Keel.Testing.Qemu;

/// <summary>
/// Everything the machine printed on its serial port, split into lines, plus a signal that wakes waiters
/// whenever a line arrives or the output ends. Filled by one reader task; read by any thread.
/// </summary>
internal sealed partial class SerialTranscript
{
    private readonly Lock _gate = new();

    /// <summary>Complete lines, cleaned of line endings and terminal escape sequences.</summary>
    private readonly List<string> _lines = [];

    /// <summary>Text after the last line feed; shown in the transcript so a machine that hangs mid-line is visible.</summary>
    private string _partial = "";

    /// <summary>Completed (and replaced) each time _lines grows or the output ends.</summary>
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set once the writer closed its end: no more lines will come.</summary>
    private bool _ended;

    /// <summary>Reads the serial stream to its end, one line at a time.</summary>
    public async Task PumpAsync(PipeReader reader)
    {
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                var lines = new List<string>();
                while (TryTakeLine(ref buffer, out ReadOnlySequence<byte> line)) lines.Add(Clean(line));

                string partial = Clean(buffer);
                if (result.IsCompleted)
                {
                    if (partial.Length > 0) lines.Add(partial);
                    Publish(lines, "", ended: true);
                    return;
                }
                Publish(lines, partial, ended: false);
                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        finally
        {
            // A read that fails (QEMU killed mid-write) still has to release the waiters.
            Publish([], _partial, ended: true);
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Looks for the first line from index <paramref name="from"/> on that <paramref name="match"/> accepts.
    /// Otherwise returns null with the task that completes when there is more to look at, and whether the
    /// output has ended (in which case there never will be).
    /// </summary>
    public SerialLine? Find(int from, Func<string, Match?> match, out Task changed, out bool ended)
    {
        lock (_gate)
        {
            for (int i = from; i < _lines.Count; i++)
            {
                if (match(_lines[i]) is { } m)
                {
                    changed = Task.CompletedTask;
                    ended = _ended;
                    return new SerialLine(i + 1, _lines[i], m);
                }
            }
            changed = _changed.Task;
            ended = _ended;
            return null;
        }
    }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate) return _lines.ToArray();
        }
    }

    public string Text
    {
        get
        {
            lock (_gate)
            {
                var text = new StringBuilder();
                foreach (string line in _lines) text.Append(line).Append('\n');
                if (_partial.Length > 0) text.Append(_partial).Append(" [no line end yet]\n");
                return text.ToString();
            }
        }
    }

    private void Publish(List<string> lines, string partial, bool ended)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            if (_ended) return;
            _lines.AddRange(lines);
            _partial = partial;
            _ended = ended;
            if (lines.Count == 0 && !ended) return;
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.SetResult();
    }

    private static bool TryTakeLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out line, (byte)'\n')) return false;
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    /// <summary>
    /// Firmware and GRUB drive the serial port as a terminal (OVMF clears the screen and moves the cursor),
    /// so their escape sequences and carriage returns are dropped to leave the text a test can match.
    /// </summary>
    private static string Clean(ReadOnlySequence<byte> bytes)
    {
        string text = Encoding.UTF8.GetString(bytes);
        return ControlCharacters().Replace(EscapeSequences().Replace(text, ""), "");
    }

    [GeneratedRegex(@"\x1B(?:\[[0-?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[@-Z\\-_])")]
    private static partial Regex EscapeSequences();

    [GeneratedRegex(@"[\x00-\x08\x0B-\x1F\x7F]")]
    private static partial Regex ControlCharacters();
}

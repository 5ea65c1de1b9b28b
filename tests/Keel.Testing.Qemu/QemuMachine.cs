using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using System.Text.RegularExpressions;

namespace Keel.Testing.Qemu;

/// <summary>
/// One QEMU process booting a Keel image, with its serial console on QEMU's standard output and input:
/// what <see cref="TypeAsync(string, CancellationToken)"/> writes arrives at the machine's COM1 receiver.
/// Waits are ordered: each <c>WaitForLineAsync</c> searches only the lines after the one the previous wait
/// matched, so a sequence of waits also checks the order in which the machine printed them.
/// Disposing kills QEMU if it is still running and removes its private files.
/// </summary>
public sealed class QemuMachine : IDisposable, IAsyncDisposable
{
    /// <summary>Where Debian's ovmf package installs the 4 MiB firmware and its variable-store template.</summary>
    private const string OvmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd";
    private const string OvmfVarsTemplate = "/usr/share/OVMF/OVMF_VARS_4M.fd";

    private readonly Process _process;
    private readonly string _commandLine;
    private readonly string? _privateFolder;
    private readonly Stopwatch _uptime = Stopwatch.StartNew();
    private readonly SerialTranscript _serial = new();
    private readonly Task _serialPump;
    private readonly StringBuilder _standardError = new();

    /// <summary>Index of the first line the next wait looks at.</summary>
    private int _nextLine;

    private QemuMachine(IReadOnlyList<string> arguments, string? privateFolder)
    {
        _privateFolder = privateFolder;
        var start = new ProcessStartInfo("qemu-system-x86_64")
        {
            UseShellExecute = false,
            // Keeping QEMU off the test runner's terminal (its stdin would otherwise be switched to raw mode),
            // and the pipe is the serial port's input: -serial stdio reads it.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        _commandLine = "qemu-system-x86_64 " + string.Join(' ', arguments);

        _process = new Process { StartInfo = start };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_standardError) _standardError.AppendLine(e.Data);
        };
        try
        {
            _process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"cannot start {_commandLine}: {e.Message} (is qemu-system-x86 installed? ./build.sh installs it)", e);
        }
        _process.BeginErrorReadLine();
        _serialPump = Task.Run(() => _serial.PumpAsync(PipeReader.Create(_process.StandardOutput.BaseStream)));
    }

    /// <summary>Starts QEMU; the machine is running (and printing) when this returns.</summary>
    public static QemuMachine Start(QemuOptions options)
    {
        if (!File.Exists(options.Image)) throw new FileNotFoundException($"image {options.Image} does not exist", options.Image);

        var arguments = new List<string>
        {
            "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
            "-m", $"{options.MemoryMiB}M",
            // Lets the kernel end the run with a status: writing v to port 0xf4 exits QEMU with 2v+1.
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            // No default network card: its option ROM slows every boot and no test uses it unless it asks.
            "-nic", "none",
        };

        string? privateFolder = null;
        if (options.Firmware == Firmware.Uefi)
        {
            // OVMF writes its variable store; each machine gets its own copy so runs cannot affect each other.
            privateFolder = Directory.CreateTempSubdirectory("keel-qemu-").FullName;
            string vars = Path.Combine(privateFolder, "OVMF_VARS.fd");
            File.Copy(OvmfVarsTemplate, vars);
            arguments.AddRange([
                "-machine", "q35",
                "-drive", $"if=pflash,format=raw,readonly=on,file={OvmfCode}",
                "-drive", $"if=pflash,format=raw,file={vars}",
            ]);
        }

        arguments.AddRange(options.Drive switch
        {
            BootDrive.Disk => ["-drive", $"format=raw,file={options.Image},snapshot=on"],
            BootDrive.CdRom => ["-cdrom", options.Image],
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Drive, "unknown boot drive"),
        });
        arguments.AddRange(options.ExtraArguments);

        try
        {
            return new QemuMachine(arguments, privateFolder);
        }
        catch
        {
            if (privateFolder is not null) Directory.Delete(privateFolder, recursive: true);
            throw;
        }
    }

    /// <summary>Everything printed on the serial console so far, one line per line.</summary>
    public string Transcript => _serial.Text;

    /// <summary>The complete lines printed so far; <see cref="SerialLine.Number"/> n is element n - 1.</summary>
    public IReadOnlyList<string> Lines => _serial.Lines;

    /// <summary>Waits for the next line that contains a match of <paramref name="pattern"/>.</summary>
    public Task<SerialLine> WaitForLineAsync(Regex pattern, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WaitForLineAsync(
            line => pattern.Match(line) is { Success: true } match ? match : null,
            $"a line matching /{pattern}/", timeout, cancellationToken);

    /// <summary>Waits for the next line that <paramref name="predicate"/> accepts.</summary>
    public Task<SerialLine> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WaitForLineAsync(line => predicate(line) ? Match.Empty : null, "a line the predicate accepts", timeout, cancellationToken);

    /// <summary>
    /// Types bytes into the serial port, as if on a terminal: "\r" is Enter, "\x01" Ctrl-A. QEMU hands them
    /// to the UART only as fast as its receive FIFO takes them, so nothing is lost on the way.
    /// </summary>
    public async Task TypeAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        Stream input = _process.StandardInput.BaseStream;
        await input.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        await input.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Types the text's characters (ASCII) into the serial port.</summary>
    public Task TypeAsync(string text, CancellationToken cancellationToken = default) =>
        TypeAsync(Encoding.ASCII.GetBytes(text), cancellationToken);

    /// <summary>Waits for QEMU to exit on its own and returns its exit status.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        try
        {
            await _process.WaitForExitAsync(cancellationToken).WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException(Report($"QEMU did not exit within {timeout.TotalSeconds:0} s"));
        }
        // The status is only final once the console has been read to its end, so the transcript is complete too.
        await _serialPump.ConfigureAwait(false);
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // QEMU exited between the check and the kill: nothing left to stop.
        }
        _process.Dispose();
        if (_privateFolder is not null && Directory.Exists(_privateFolder)) Directory.Delete(_privateFolder, recursive: true);
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<SerialLine> WaitForLineAsync(Func<string, Match?> match, string what, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        while (true)
        {
            SerialLine? line = _serial.Find(_nextLine, match, out Task changed, out bool ended);
            if (line is not null)
            {
                _nextLine = line.Number;
                return line;
            }
            if (ended)
            {
                // Give QEMU a moment to be reaped so the report can show its status.
                await Task.WhenAny(_process.WaitForExitAsync(CancellationToken.None), Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
                throw new QemuExitedException(Report($"the serial console ended without {what} from line {_nextLine + 1} on"));
            }
            try
            {
                await changed.WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException(Report($"timed out after {timeout.TotalSeconds:0} s waiting for {what} from line {_nextLine + 1} on"));
            }
        }
    }

    /// <summary>A failure message with what a CI log needs to diagnose it: the command, QEMU's state, its errors and the console.</summary>
    private string Report(string problem)
    {
        var report = new StringBuilder();
        report.AppendLine($"{problem}, {_uptime.Elapsed.TotalSeconds:0.0} s after QEMU started.");
        report.AppendLine($"Command: {_commandLine}");
        report.AppendLine(_process.HasExited ? $"QEMU exited with status {_process.ExitCode}." : "QEMU is still running.");
        string errors;
        lock (_standardError) errors = _standardError.ToString();
        if (errors.Length > 0) report.AppendLine("QEMU standard error:").Append(errors);
        string transcript = Transcript;
        report.AppendLine(transcript.Length > 0 ? "Serial console:" : "Serial console: (nothing printed)");
        report.Append(transcript);
        return report.ToString();
    }
}

using System.Diagnostics;

namespace Keel.Image;

/// <summary>Runs the external tools of the build (ilc, objcopy, ld, nm, grub-mkrescue) and fails loudly.</summary>
public static class Tools
{
    public static string Run(string program, IEnumerable<string> arguments, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new BuildException($"cannot run {program}: {e.Message} (is it installed? build.sh installs it)");
        }
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new BuildException($"{program} failed ({process.ExitCode}):\n{stdout}{stderr.Result}");
        }
        return stdout;
    }
}

public class BuildException(string message) : Exception(message);

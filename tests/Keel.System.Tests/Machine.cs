using Keel.Testing.Qemu;
using Xunit;
using Xunit.Sdk;

namespace Keel.System.Tests;

/// <summary>Runs a test's checks against one booted machine, which is killed when they end.</summary>
internal static class Machine
{
    public static async Task BootAsync(QemuOptions options, Func<QemuMachine, CancellationToken, Task> checks)
    {
        using var qemu = QemuMachine.Start(options);
        try
        {
            await checks(qemu, TestContext.Current.CancellationToken);
        }
        catch (XunitException)
        {
            // Timeouts already carry the transcript; a failed check on a printed value needs it added, since
            // the line it read may be wrong in a way only the surrounding lines explain.
            TestContext.Current.TestOutputHelper?.WriteLine("Serial console:\n" + qemu.Transcript);
            throw;
        }
    }

    public static QemuOptions Image(string name) => new(RepositoryRoot.Artifact(name));
}

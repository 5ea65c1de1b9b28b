namespace Keel.Testing.Qemu;

/// <summary>The serial console ended (QEMU exited) before the line a test waited for appeared.</summary>
public sealed class QemuExitedException(string message) : Exception(message);

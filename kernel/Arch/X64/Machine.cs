namespace Keel.Kernel.Arch.X64
{
    /// <summary>How a run ends, as QEMU's isa-debug-exit reports it: exit status = (value &lt;&lt; 1) | 1.</summary>
    internal enum ExitStatus : byte
    {
        /// <summary>QEMU exits with status 33.</summary>
        Success = 0x10,
        /// <summary>QEMU exits with status 35: the kernel failed.</summary>
        Failure = 0x11,
        /// <summary>QEMU exits with status 37: the kernel is fine, but the control domain did not power off
        /// (it reports that a guest crashed or did not power off that way).</summary>
        DomainFailure = 0x12,
    }

    internal static class Machine
    {
        // QEMU's isa-debug-exit device, at the port the test harness configures (-device
        // isa-debug-exit,iobase=0xf4,iosize=0x04). On real hardware nothing listens there.
        private static readonly Port DebugExit = new Port(0xF4);

        /// <summary>Ends the run: under QEMU with the status; elsewhere by halting with interrupts off.</summary>
        internal static void Stop(ExitStatus status)
        {
            DebugExit.Write32((uint)status);
            Native.HaltForever();
        }
    }
}

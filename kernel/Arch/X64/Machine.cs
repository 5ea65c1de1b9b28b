namespace Keel.Kernel.Arch.X64
{
    /// <summary>How a run ends, as QEMU's isa-debug-exit reports it: exit status = (value &lt;&lt; 1) | 1.</summary>
    internal enum ExitStatus : byte
    {
        /// <summary>QEMU exits with status 33.</summary>
        Success = 0x10,
        /// <summary>QEMU exits with status 35.</summary>
        Failure = 0x11,
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

using Keel.Kernel.Arch.X64;
using Keel.Kernel.Time;

namespace Keel.Kernel.Devices
{
    /// <summary>The CMOS real-time clock (MC146818-compatible), read through the index/data ports 0x70/0x71.</summary>
    internal static class Cmos
    {
        private static readonly Port Index = new Port(0x70), Data = new Port(0x71);

        // Register numbers: seconds 0, minutes 2, hours 4, day 7, month 8, year 9, status A 0x0A,
        // status B 0x0B, and the century register at 0x32 (ACPI FADT's usual choice, which QEMU implements).
        internal static RtcRegisters ReadClock()
        {
            // The registers change during an update cycle; read until two consecutive snapshots agree,
            // each taken while no update is in progress (status A bit 7).
            RtcRegisters previous = Snapshot();
            for (int attempt = 0; attempt < 10; attempt++)
            {
                RtcRegisters current = Snapshot();
                if (Same(previous, current)) return current;
                previous = current;
            }
            return previous;
        }

        private static RtcRegisters Snapshot()
        {
            for (int spins = 0; spins < 1_000_000 && (Read(0x0A) & 0x80) != 0; spins++) Processor.Pause();
            RtcRegisters r;
            r.Seconds = Read(0x00);
            r.Minutes = Read(0x02);
            r.Hours = Read(0x04);
            r.Day = Read(0x07);
            r.Month = Read(0x08);
            r.Year = Read(0x09);
            r.Century = Read(0x32);
            r.StatusB = Read(0x0B);
            return r;
        }

        private static bool Same(RtcRegisters a, RtcRegisters b) =>
            a.Seconds == b.Seconds && a.Minutes == b.Minutes && a.Hours == b.Hours && a.Day == b.Day &&
            a.Month == b.Month && a.Year == b.Year && a.Century == b.Century;

        private static byte Read(byte register)
        {
            // Bit 7 of the index port masks NMIs; keep it set while the kernel reads the clock.
            Index.Write8((byte)(0x80 | register));
            return Data.Read8();
        }
    }
}

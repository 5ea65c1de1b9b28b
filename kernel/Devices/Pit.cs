using Keel.Kernel.Arch.X64;

namespace Keel.Kernel.Devices
{
    /// <summary>
    /// The 8254 programmable interval timer, used only as a known-frequency reference (1.193182 MHz) to
    /// calibrate the local APIC timer and the TSC. Channel 2 is used because its gate and output can be
    /// driven and read through port 0x61 without interrupts.
    /// </summary>
    internal static class Pit
    {
        internal const uint Frequency = 1193182;

        private static readonly Port Channel2 = new Port(0x42), Command = new Port(0x43), Control = new Port(0x61);

        /// <summary>Busy-waits for the given number of PIT ticks (at most 65535), polling channel 2's output.</summary>
        internal static void Wait(ushort ticks)
        {
            // Port 0x61: bit 0 gates channel 2, bit 1 enables the speaker (kept off), bit 5 is OUT2.
            byte control = Control.Read8();
            Control.Write8((byte)((control & ~0x02) | 0x01));
            // Channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count: OUT2 rises when the count ends).
            Command.Write8(0xB0);
            Channel2.Write8((byte)ticks);
            Channel2.Write8((byte)(ticks >> 8));
            // Restart the count by toggling the gate, then wait for OUT2 (bounded: a missing PIT must not hang).
            control = Control.Read8();
            Control.Write8((byte)(control & ~0x01));
            Control.Write8((byte)(control | 0x01));
            for (int spins = 0; spins < 100_000_000 && (Control.Read8() & 0x20) == 0; spins++)
            {
                Processor.Pause();
            }
        }
    }
}

using Keel.Kernel.Arch.X64;
using Keel.Kernel.Devices;

namespace Keel.Kernel.Time
{
    /// <summary>
    /// The scheduler's clock: the local APIC timer in periodic mode, calibrated against the PIT together
    /// with the TSC, so that both can be converted to real time.
    /// </summary>
    internal static class Timer
    {
        internal const byte Vector = 0x20;
        internal const uint Hertz = 100;

        // Calibration window: 11932 PIT ticks = 10.0 ms at 1.193182 MHz.
        private const ushort CalibrationPitTicks = 11932;
        private const ulong CalibrationMicroseconds = 10000;

        private static ulong s_ticks;

        /// <summary>APIC timer counts (after the divide-by-16) per millisecond.</summary>
        internal static uint ApicCountsPerMillisecond { get; private set; }

        /// <summary>TSC cycles per millisecond.</summary>
        internal static ulong TscPerMillisecond { get; private set; }

        internal static ulong Ticks => System.Threading.Volatile.Read(ref s_ticks);

        internal static void Calibrate()
        {
            LocalApic.StartCalibrationCount();
            ulong tscStart = TimestampCounter.Read();
            Pit.Wait(CalibrationPitTicks);
            ulong tscEnd = TimestampCounter.Read();
            uint elapsed = uint.MaxValue - LocalApic.CurrentCount;
            ApicCountsPerMillisecond = (uint)(elapsed * 1000UL / CalibrationMicroseconds);
            TscPerMillisecond = (tscEnd - tscStart) * 1000UL / CalibrationMicroseconds;
            if (ApicCountsPerMillisecond == 0) ApicCountsPerMillisecond = 1;
            if (TscPerMillisecond == 0) TscPerMillisecond = 1;
        }

        internal static void StartPeriodic()
        {
            LocalApic.StartPeriodic(Vector, ApicCountsPerMillisecond * (1000 / Hertz));
        }

        /// <summary>
        /// Leaves periodic mode: from now on the timer fires once, when the scheduler next needs the CPU back
        /// (the end of a slice or the earliest guest timer). ns 0 disarms it.
        /// </summary>
        internal static void ArmOneShot(ulong ns)
        {
            if (ns == 0)
            {
                LocalApic.StartOneShot(Vector, 0);
                return;
            }
            ulong count = ns * ApicCountsPerMillisecond / 1_000_000;
            LocalApic.StartOneShot(Vector, count == 0 ? 1 : count > uint.MaxValue ? uint.MaxValue : (uint)count);
        }

        /// <summary>Called from the interrupt path on every timer interrupt.</summary>
        internal static void Tick()
        {
            s_ticks++;
            LocalApic.EndOfInterrupt();
        }

        /// <summary>Milliseconds by the TSC since the given TSC reading.</summary>
        internal static ulong MillisecondsSince(ulong tscStart) => (TimestampCounter.Read() - tscStart) / TscPerMillisecond;
    }
}

using Keel.Kernel.Arch.X64;

namespace Keel.Kernel.Time
{
    /// <summary>
    /// System time: nanoseconds since the kernel started its clock, from the TSC through the same TimeScale
    /// guests use, so the kernel and every guest agree to the nanosecond. Wall-clock time is system time
    /// plus the moment (seconds since 1970) the clock started, read from the CMOS clock at boot.
    /// </summary>
    internal static class SystemClock
    {
        private static ulong s_tscAtStart;

        internal static TimeScale Scale { get; private set; }

        /// <summary>Unix time (whole seconds) at system time 0; 0 when the CMOS clock was unreadable.</summary>
        internal static ulong WallClockAtStart { get; private set; }

        internal static ulong TscAtStart => s_tscAtStart;

        internal static void Start(ulong tscPerSecond, ulong unixSecondsNow)
        {
            Scale = TimeScale.FromFrequency(tscPerSecond);
            s_tscAtStart = TimestampCounter.Read();
            WallClockAtStart = unixSecondsNow;
        }

        internal static ulong Now => Scale.ToNanoseconds(TimestampCounter.Read() - s_tscAtStart);

        internal static ulong Tsc => TimestampCounter.Read();
    }
}

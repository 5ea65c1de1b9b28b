using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// Scheduling measurements, each over a window of system time given on the command line (so several
    /// domains measure the same window):
    ///   spin=FROM:TO           spins throughout; reports the CPU time it got between FROM and TO ms
    ///   sleeper=FROM:TO:EVERY  sleeps until each EVERY-ms deadline and measures how late it runs
    /// </summary>
    internal static class SchedulingTests
    {
        private const ulong Millisecond = 1_000_000;

        internal static void Spin(string window)
        {
            SharedInfo.Map();
            if (!TryWindow(window, out ulong from, out ulong to, out _)) return;
            while (Clock.Now < from) { }
            ulong ranAtStart = Clock.RunningTime();
            ulong spins = 0;
            while (Clock.Now < to) spins++;
            ulong ran = Clock.RunningTime() - ranAtStart;
            DomainConsole.WriteLine("spin: ran " + DomainConsole.Decimal((long)(ran / 1000)) + " us of the " + DomainConsole.Decimal((long)((to - from) / 1000)) + " us window (" + DomainConsole.Decimal((long)spins) + " clock reads)");
        }

        internal static void Sleeper(string window)
        {
            SharedInfo.Map();
            if (!TryWindow(window, out ulong from, out ulong to, out ulong every)) return;
            ulong[] late = new ulong[(int)((to - from) / every) + 1];
            int wakes = 0;
            for (ulong deadline = from; deadline < to && wakes < late.Length; deadline += every)
            {
                Clock.SleepUntil(deadline);
                ulong now = Clock.Now;
                late[wakes++] = now > deadline ? now - deadline : 0;
            }
            Sort(late, wakes);
            DomainConsole.WriteLine("sleeper: " + DomainConsole.Decimal(wakes) + " wakes, late by median " + DomainConsole.Decimal((long)(late[wakes / 2] / 1000))
                + " us, 90th percentile " + DomainConsole.Decimal((long)(late[wakes * 9 / 10] / 1000)) + " us, max " + DomainConsole.Decimal((long)(late[wakes - 1] / 1000)) + " us");
        }

        /// <summary>"FROM:TO" or "FROM:TO:EVERY" in ms of system time.</summary>
        private static bool TryWindow(string text, out ulong from, out ulong to, out ulong every)
        {
            ulong[] parts = new ulong[3];
            int count = Arguments.Numbers(text, parts);
            from = parts[0] * Millisecond;
            to = parts[1] * Millisecond;
            every = parts[2] * Millisecond;
            bool ok = to > from && (count == 2 || (count == 3 && every > 0));
            if (!ok) DomainConsole.WriteLine("scheduling test: bad window \"" + text + "\"");
            return ok;
        }

        private static void Sort(ulong[] values, int count)
        {
            for (int i = 1; i < count; i++)
            {
                ulong v = values[i];
                int j = i - 1;
                while (j >= 0 && values[j] > v)
                {
                    values[j + 1] = values[j];
                    j--;
                }
                values[j + 1] = v;
            }
        }
    }
}

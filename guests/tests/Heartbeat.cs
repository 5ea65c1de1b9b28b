using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// One of many domains alive at once: fills 64 KiB of its memory with a pattern of its own (seeded by
    /// its start time and the start_info page's machine frame, so no two domains share it), then once a
    /// second until the given system time checks the pattern and prints a heartbeat.
    /// </summary>
    internal static unsafe class Heartbeat
    {
        private const int Words = 8192;

        internal static void Run(string until)
        {
            SharedInfo.Map();
            ulong end = Arguments.Number(until) * 1_000_000;
            ulong seed = Clock.Now ^ (Memory.MachineFrame(((ulong)DomainEntry.StartInfo - DomainEntry.ImageBase) / Memory.PageSize) << 20);
            ulong[] memory = new ulong[Words];
            for (int i = 0; i < Words; i++) memory[i] = Pattern(seed, i);
            int beat = 0;
            for (ulong next = Clock.Now; next < end; next += 1_000_000_000)
            {
                Clock.SleepUntil(next);
                int bad = 0;
                for (int i = 0; i < Words; i++) if (memory[i] != Pattern(seed, i)) bad++;
                DomainConsole.WriteLine("heartbeat " + DomainConsole.Decimal(++beat) + (bad == 0 ? ": memory verified" : ": " + DomainConsole.Decimal(bad) + " words changed"));
            }
        }

        // splitmix64: a different, well-mixed word for every (seed, index).
        private static ulong Pattern(ulong seed, int index)
        {
            ulong z = seed + (ulong)(index + 1) * 0x9E3779B97F4A7C15;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
            return z ^ (z >> 31);
        }
    }
}

namespace Keel.Testing
{
    /// <summary>
    /// The seeded data the disk tests write and check, and the places the block benchmarks visit: one
    /// definition for the domains that write (blkback's direct test and bench, the test domain's disk writer
    /// and disk bench) and the host tests that read the disk file afterwards. No project is shared by all of
    /// them, so each compiles this file; it runs on the freestanding core library and on .NET alike.
    /// </summary>
    internal static class SeededPatterns
    {
        /// <summary>Word <paramref name="word"/> (0..511) of disk page <paramref name="page"/> written with
        /// <paramref name="seed"/>: splitmix64 (Steele, Lea and Flood, 2014) of the three.</summary>
        internal static ulong DiskWord(ulong seed, ulong page, int word)
        {
            ulong z = seed * 0x100000001B3UL + page * 512 + (ulong)word + 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>The next number of xorshift64 (Marsaglia, 2003): the same sequence from the same state in every run.</summary>
        internal static ulong XorShift(ref ulong state)
        {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            return state;
        }
    }
}

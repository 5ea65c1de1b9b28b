namespace Keel.Testing
{
    /// <summary>
    /// One of the block benchmarks' workloads: blkback runs each on its disk alone (the baseline), then a guest
    /// runs the same through blkback, and the Bench target pairs the two by name. One list for the three.
    /// </summary>
    internal struct BlockWorkload
    {
        /// <summary>The benchmarks' region: the first 32 MiB of the disk (or of the guest's virtual disk).</summary>
        internal const ulong RegionSectors = 65536;

        /// <summary>The most pages a request of any workload has, and the most requests any keeps in flight.</summary>
        internal const int MaxPages = 16, MaxInFlight = 32;

        internal string Name;
        internal bool Write;
        internal int Pages;        // per request, each whole
        internal int Requests;
        internal bool Random;      // at pseudo-random places (SeededPatterns.XorShift), else one after another
        internal int InFlight;

        /// <summary>64 KiB sequential writes then reads over the region, 4 KiB writes then reads at 4096 places
        /// of it, 16 in flight; the 4 KiB ones again with 32 in flight (every slot of a one-page ring).</summary>
        internal static BlockWorkload[] All() => new[]
        {
            new BlockWorkload { Name = "seq-write-64k", Write = true, Pages = 16, Requests = (int)(RegionSectors / 128), InFlight = 16 },
            new BlockWorkload { Name = "seq-read-64k", Pages = 16, Requests = (int)(RegionSectors / 128), InFlight = 16 },
            new BlockWorkload { Name = "rand-write-4k", Write = true, Pages = 1, Requests = 4096, Random = true, InFlight = 16 },
            new BlockWorkload { Name = "rand-read-4k", Pages = 1, Requests = 4096, Random = true, InFlight = 16 },
            new BlockWorkload { Name = "rand-write-4k-qd32", Write = true, Pages = 1, Requests = 4096, Random = true, InFlight = MaxInFlight },
            new BlockWorkload { Name = "rand-read-4k-qd32", Pages = 1, Requests = 4096, Random = true, InFlight = MaxInFlight },
        };
    }
}

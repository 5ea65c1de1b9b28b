using System;
using Keel.Drivers.Blkfront;
using Keel.Ringlib.Protocols;
using Keel.Runtime;
using Keel.Testing;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// blkbench: the Bench target's block workloads (tests/Shared/BlockWorkloads.cs) through blkback, on xvda with
    /// a grant per page per request, on xvdb with persistent grants and the data copied through blkfront's pool
    /// (as Linux's blkfront does), and on xvdc with persistent grants and the data in blkfront's own buffers, used
    /// in place. blkback's bench-direct runs the same workloads on the same virtio-blk device with no ring
    /// (blkback/DirectBench.cs). Each result is "blkbench: MODE WORKLOAD REQUESTS requests BYTES bytes in NS ns".
    /// </summary>
    internal static unsafe class DiskBench
    {
        private const int MaxPages = BlockWorkload.MaxPages, MaxInFlight = BlockWorkload.MaxInFlight;

        private static readonly ulong[] s_va = new ulong[MaxInFlight * MaxPages];
        private static readonly ulong[] s_frame = new ulong[MaxInFlight * MaxPages];

        internal static void Run()
        {
            SharedInfo.Map();
            Grants.Initialise();
            StoreClient.Connect();
            for (int i = 0; i < s_va.Length; i++)
            {
                s_va[i] = Pages.TakePage(out s_frame[i]);
                if (s_va[i] == 0) { DomainConsole.WriteLine("blkbench: out of memory"); return; }
            }
            Measure("plain", BlockFront.Open(0, persistent: false));
            Measure("persistent", BlockFront.Open(1, persistent: true));
            Measure("buffers", BlockFront.Open(2, persistent: true, buffers: MaxInFlight * MaxPages));
            DomainConsole.WriteLine("blkbench: done");
        }

        private static void Measure(string mode, BlockFront disk)
        {
            if (disk == null || !disk.WaitConnected(120_000_000_000) || disk.Sectors < BlockWorkload.RegionSectors)
            {
                DomainConsole.WriteLine("blkbench: " + mode + ": no usable disk");
                return;
            }
            BlockWorkload[] workloads = BlockWorkload.All();
            for (int i = 0; i < workloads.Length; i++) Workload(disk, mode, workloads[i]);
            DomainConsole.WriteLine("blkbench: " + mode + " used persistent grants: " + (disk.UsesPersistentGrants ? "yes" : "no"));
        }

        private static void Workload(BlockFront disk, string mode, in BlockWorkload workload)
        {
            Span<ulong> frames = stackalloc ulong[MaxPages];
            Span<ulong> addresses = stackalloc ulong[MaxPages];
            Span<int> buffers = stackalloc int[MaxPages];
            bool inPlace = disk.Buffers >= MaxInFlight * MaxPages;
            Span<FrontCompletion> done = stackalloc FrontCompletion[MaxInFlight];
            Span<bool> busy = stackalloc bool[MaxInFlight];
            BlkifOperation operation = workload.Write ? BlkifOperation.Write : BlkifOperation.Read;
            int pages = workload.Pages, requests = workload.Requests;
            ulong sectorsPerRequest = (ulong)pages * 8, places = BlockWorkload.RegionSectors / sectorsPerRequest, state = 0x9E3779B97F4A7C15UL;
            int next = 0, finished = 0, failed = 0;
            ulong started = Clock.Now;
            while (finished < requests)
            {
                for (int slot = 0; slot < workload.InFlight && next < requests; slot++)
                {
                    if (busy[slot]) continue;
                    for (int p = 0; p < pages; p++)
                    {
                        frames[p] = s_frame[slot * MaxPages + p];
                        addresses[p] = s_va[slot * MaxPages + p];
                        buffers[p] = slot * MaxPages + p;
                    }
                    ulong place = workload.Random ? SeededPatterns.XorShift(ref state) % places : (ulong)next;
                    bool queued = inPlace
                        ? disk.TrySubmitBuffers(operation, place * sectorsPerRequest, buffers.Slice(0, pages), 7, (ulong)slot)
                        : disk.TrySubmit(operation, place * sectorsPerRequest, frames.Slice(0, pages), addresses.Slice(0, pages), 7, (ulong)slot);
                    if (!queued) break;
                    busy[slot] = true;
                    next++;
                }
                disk.Pump();
                int n = disk.Reap(done);
                for (int i = 0; i < n; i++)
                {
                    busy[(int)done[i].Token] = false;
                    finished++;
                    if (done[i].Status != BlkifStatus.Okay) failed++;
                }
            }
            ulong ns = Clock.Now - started;
            DomainConsole.WriteLine("blkbench: " + mode + " " + workload.Name + " " + DomainConsole.Decimal(requests) + " requests " + DomainConsole.Decimal((long)((ulong)requests * sectorsPerRequest * 512))
                + " bytes in " + DomainConsole.Decimal((long)ns) + " ns" + (failed > 0 ? ", " + DomainConsole.Decimal(failed) + " failed" : ""));
        }
    }
}

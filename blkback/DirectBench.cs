using System;
using Keel.Drivers;
using Keel.Drivers.Virtio;
using Keel.Runtime;
using Keel.Testing;

namespace Keel.Blkback
{
    /// <summary>
    /// bench-direct on blkback's command line: before serving anyone, the Bench target's block workloads
    /// (tests/Shared/BlockWorkloads.cs) on vda's first 32 MiB through the virtio-blk driver alone, with no ring,
    /// no grant and no other domain, the baseline for the same workloads from a guest through blkback
    /// (guests/tests/DiskBench.cs). Each result is "blkbench: direct WORKLOAD REQUESTS requests BYTES bytes in NS ns".
    /// </summary>
    internal static class DirectBench
    {
        private const int MaxPages = BlockWorkload.MaxPages, MaxInFlight = BlockWorkload.MaxInFlight;

        internal static void Run()
        {
            if (PhysicalDisks.Count == 0 || PhysicalDisks.Disks[0].Capacity < BlockWorkload.RegionSectors) return;
            var bus = new ulong[MaxInFlight * MaxPages];
            for (int i = 0; i < bus.Length; i++)
            {
                if (!PhysicalDisks.Dma.TryAllocatePage(out _, out bus[i])) return;
            }
            VirtioBlock disk = PhysicalDisks.Disks[0];
            BlockWorkload[] workloads = BlockWorkload.All();
            for (int i = 0; i < workloads.Length; i++) Workload(disk, bus, workloads[i]);
        }

        private static void Workload(VirtioBlock disk, ulong[] bus, in BlockWorkload workload)
        {
            Span<BlockSegment> segments = stackalloc BlockSegment[MaxPages];
            // One more than can be in flight: Reap then always finds the queue empty and asks for an interrupt
            // at the next completion (a full buffer means "call again", VirtioBlock.Reap).
            Span<BlockCompletion> done = stackalloc BlockCompletion[MaxInFlight + 1];
            Span<bool> busy = stackalloc bool[MaxInFlight];
            BlockOperation operation = workload.Write ? BlockOperation.Write : BlockOperation.Read;
            int pages = workload.Pages, requests = workload.Requests;
            ulong sectorsPerRequest = (ulong)pages * 8, places = BlockWorkload.RegionSectors / sectorsPerRequest, state = 0x9E3779B97F4A7C15UL;
            int next = 0, finished = 0, failed = 0;
            ulong started = Clock.Now;
            while (finished < requests)
            {
                bool submitted = false;
                for (int slot = 0; slot < workload.InFlight && next < requests; slot++)
                {
                    if (busy[slot]) continue;
                    for (int p = 0; p < pages; p++) segments[p] = new BlockSegment(bus[slot * MaxPages + p], DmaMemory.PageSize);
                    // Seeded as the guest's workload is, so both visit the same places.
                    ulong place = workload.Random ? SeededPatterns.XorShift(ref state) % places : (ulong)next;
                    if (!disk.TrySubmit(operation, place * sectorsPerRequest, segments.Slice(0, pages), (ulong)slot)) break;
                    busy[slot] = true;
                    next++;
                    submitted = true;
                }
                if (submitted) disk.Kick();
                Events.WaitUntil(Clock.Now + 10_000_000);
                PhysicalDisks.TakeInterrupt(0);
                int n = disk.Reap(done);
                for (int i = 0; i < n; i++)
                {
                    busy[(int)done[i].Token] = false;
                    finished++;
                    if (done[i].Status != BlockStatus.Ok) failed++;
                }
            }
            ulong ns = Clock.Now - started;
            DomainConsole.WriteLine("blkbench: direct " + workload.Name + " " + DomainConsole.Decimal(requests) + " requests " + DomainConsole.Decimal((long)((ulong)requests * sectorsPerRequest * 512))
                + " bytes in " + DomainConsole.Decimal((long)ns) + " ns" + (failed > 0 ? ", " + DomainConsole.Decimal(failed) + " failed" : ""));
        }
    }
}

using System;
using Keel.Drivers;
using Keel.Drivers.Virtio;
using Keel.Runtime;
using Keel.Testing;

namespace Keel.Blkback
{
    /// <summary>
    /// bench-direct on blkback's command line: before serving anyone, the Bench target's block workloads on
    /// vda's first 32 MiB through the virtio-blk driver alone, with no ring, no grant and no other domain, the
    /// baseline for the same workloads from a guest through blkback (guests/tests/DiskBench.cs): 64 KiB
    /// sequential writes and reads, then 4 KiB writes and reads at 4096 pseudo-random places, 16 in flight.
    /// Each result is "blkbench: direct WORKLOAD REQUESTS requests BYTES bytes in NS ns".
    /// </summary>
    internal static class DirectBench
    {
        private const int InFlight = 16, MaxPages = 16;
        private const ulong RegionSectors = 65536;

        internal static void Run()
        {
            if (PhysicalDisks.Count == 0 || PhysicalDisks.Disks[0].Capacity < RegionSectors) return;
            var bus = new ulong[InFlight * MaxPages];
            for (int i = 0; i < bus.Length; i++)
            {
                if (!PhysicalDisks.Dma.TryAllocatePage(out _, out bus[i])) return;
            }
            VirtioBlock disk = PhysicalDisks.Disks[0];
            Workload(disk, bus, "seq-write-64k", BlockOperation.Write, 16, (int)(RegionSectors / 128), random: false);
            Workload(disk, bus, "seq-read-64k", BlockOperation.Read, 16, (int)(RegionSectors / 128), random: false);
            Workload(disk, bus, "rand-write-4k", BlockOperation.Write, 1, 4096, random: true);
            Workload(disk, bus, "rand-read-4k", BlockOperation.Read, 1, 4096, random: true);
        }

        private static void Workload(VirtioBlock disk, ulong[] bus, string name, BlockOperation operation, int pages, int requests, bool random)
        {
            Span<BlockSegment> segments = stackalloc BlockSegment[MaxPages];
            // One more than can be in flight: Reap then always finds the queue empty and asks for an interrupt
            // at the next completion (a full buffer means "call again", VirtioBlock.Reap).
            Span<BlockCompletion> done = stackalloc BlockCompletion[InFlight + 1];
            Span<bool> busy = stackalloc bool[InFlight];
            ulong sectorsPerRequest = (ulong)pages * 8, places = RegionSectors / sectorsPerRequest, state = 0x9E3779B97F4A7C15UL;
            int next = 0, finished = 0, failed = 0;
            ulong started = Clock.Now;
            while (finished < requests)
            {
                bool submitted = false;
                for (int slot = 0; slot < InFlight && next < requests; slot++)
                {
                    if (busy[slot]) continue;
                    for (int p = 0; p < pages; p++) segments[p] = new BlockSegment(bus[slot * MaxPages + p], DmaMemory.PageSize);
                    // Seeded as the guest's workload is, so both visit the same places.
                    ulong place = random ? SeededPatterns.XorShift(ref state) % places : (ulong)next;
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
            DomainConsole.WriteLine("blkbench: direct " + name + " " + DomainConsole.Decimal(requests) + " requests " + DomainConsole.Decimal((long)((ulong)requests * sectorsPerRequest * 512))
                + " bytes in " + DomainConsole.Decimal((long)ns) + " ns" + (failed > 0 ? ", " + DomainConsole.Decimal(failed) + " failed" : ""));
        }
    }
}

using System;
using Keel.Drivers;
using Keel.Drivers.Virtio;
using Keel.Runtime;
using Keel.Testing;

namespace Keel.Blkback
{
    /// <summary>
    /// direct=MiB: the virtio-blk driver used by this domain alone, with no ring and no other domain: seeded
    /// pseudo-random data written over the first MiB of vda in 64 KiB requests, 16 in flight, then read back
    /// and compared. It proves the device path (assignment, BARs, DMA, the line bound to a port) and is the
    /// baseline the Bench compares blkback's guests against.
    /// </summary>
    internal static unsafe class DirectTest
    {
        private const int RequestBytes = 64 * 1024, PagesPerRequest = RequestBytes / DmaMemory.PageSize, InFlight = 16;

        private static readonly ulong[] s_va = new ulong[InFlight * PagesPerRequest];
        private static readonly ulong[] s_bus = new ulong[InFlight * PagesPerRequest];

        internal static void Run(string argument)
        {
            int mib = DomainConsole.TryParseDecimal(argument, out ulong asked) && asked <= 1 << 20 ? (int)asked : 0;
            if (PhysicalDisks.Count == 0 || mib <= 0) return;
            VirtioBlock disk = PhysicalDisks.Disks[0];
            ulong requests = (ulong)mib * 1024 * 1024 / RequestBytes;
            if (requests * (RequestBytes / 512) > disk.Capacity)
            {
                DomainConsole.WriteLine("blkback: direct: vda is smaller than " + DomainConsole.Decimal(mib) + " MiB");
                return;
            }
            for (int i = 0; i < s_va.Length; i++)
            {
                if (!PhysicalDisks.Dma.TryAllocatePage(out s_va[i], out s_bus[i])) return;
            }
            ulong started = Clock.Now;
            long failed = Pass(disk, BlockOperation.Write, requests);
            ulong written = Clock.Now;
            long bad = failed + Pass(disk, BlockOperation.Read, requests);
            ulong read = Clock.Now;
            DomainConsole.WriteLine("blkback: direct: " + DomainConsole.Decimal(mib) + " MiB written in " + Ms(written - started) + " ms and read back in "
                + Ms(read - written) + " ms, " + DomainConsole.Decimal(bad) + " bad requests");
        }

        /// <summary>Every request of the pass, InFlight at a time; a read is checked against the pattern it should hold. Returns how many failed or mismatched.</summary>
        private static long Pass(VirtioBlock disk, BlockOperation operation, ulong requests)
        {
            Span<BlockSegment> segments = stackalloc BlockSegment[PagesPerRequest];
            // One more than can be in flight, so Reap always ends by asking for the next interrupt (see DirectBench).
            Span<BlockCompletion> done = stackalloc BlockCompletion[InFlight + 1];
            Span<bool> busy = stackalloc bool[InFlight];
            ulong next = 0, finished = 0;
            long bad = 0;
            while (finished < requests)
            {
                bool submitted = false;
                for (int slot = 0; slot < InFlight && next < requests; slot++)
                {
                    if (busy[slot]) continue;
                    for (int p = 0; p < PagesPerRequest; p++)
                    {
                        int page = slot * PagesPerRequest + p;
                        if (operation == BlockOperation.Write) Fill(s_va[page], next * PagesPerRequest + (ulong)p);
                        segments[p] = new BlockSegment(s_bus[page], DmaMemory.PageSize);
                    }
                    if (!disk.TrySubmit(operation, next * (RequestBytes / 512), segments, ((ulong)slot << 32) | next)) break;
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
                    int slot = (int)(done[i].Token >> 32);
                    ulong request = done[i].Token & 0xFFFF_FFFF;
                    busy[slot] = false;
                    finished++;
                    if (done[i].Status != BlockStatus.Ok) bad++;
                    else if (operation == BlockOperation.Read && !Check(slot, request)) bad++;
                }
            }
            return bad;
        }

        private static bool Check(int slot, ulong request)
        {
            for (int p = 0; p < PagesPerRequest; p++)
            {
                ulong* words = (ulong*)s_va[slot * PagesPerRequest + p];
                ulong page = request * PagesPerRequest + (ulong)p;
                // The page is one of this domain's DMA pages, mapped for its life: 512 words.
                for (int w = 0; w < 512; w++) if (words[w] != SeededPatterns.DiskWord(0, page, w)) return false;
            }
            return true;
        }

        private static void Fill(ulong va, ulong page)
        {
            ulong* words = (ulong*)va;
            // As in Check: a DMA page of this domain, 4096 bytes.
            for (int w = 0; w < 512; w++) words[w] = SeededPatterns.DiskWord(0, page, w);
        }

        private static string Ms(ulong ns) => DomainConsole.Decimal((long)(ns / 1_000_000));
    }
}

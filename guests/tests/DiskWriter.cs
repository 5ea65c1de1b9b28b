using System;
using Keel.Drivers.Blkfront;
using Keel.Ringlib.Protocols;
using Keel.Runtime;
using Keel.Testing;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// disk=MODE:MIB:SEED[:PASSES[:IO[:ORDER]]] on xvda through blkfront: write writes MIB of seeded pseudo-random data
    /// (32 KiB requests, 16 in flight), reads it back and compares; verify only reads and compares (a disk
    /// written in an earlier run); loop does write-and-verify passes, each with the next seed, PASSES times
    /// (for the tests that crash and swap the back-end meanwhile). IO says whose pages carry the data: pages
    /// (the default: this domain's own, granted per request), persistent (its own, copied through blkfront's
    /// persistently granted pool) or buffers (blkfront's buffers, persistently granted and used in place);
    /// ORDER is the ring page order blkfront asks for (0, one page, by default).
    /// Every request the back-end fails and every sector that reads back wrong is counted; the last line is
    /// the verdict the system test checks.
    /// </summary>
    internal static unsafe class DiskWriter
    {
        private const int PagesPerRequest = 8, InFlight = 16, SectorsPerRequest = PagesPerRequest * 8;
        private const ulong ConnectTimeoutNs = 120_000_000_000;

        private static readonly ulong[] s_va = new ulong[InFlight * PagesPerRequest];
        private static readonly ulong[] s_frame = new ulong[InFlight * PagesPerRequest];

        internal static void Run(string argument)
        {
            string[] parts = Split(argument);
            if (parts == null)
            {
                DomainConsole.WriteLine("disk: usage disk=write|verify|loop:MIB:SEED[:PASSES[:pages|persistent|buffers[:ORDER]]]");
                return;
            }
            string mode = parts[0];
            ulong mib = Arguments.Number(parts[1]), seed = Arguments.Number(parts[2]);
            ulong passes = parts.Length > 3 ? Arguments.Number(parts[3]) : 1;
            string io = parts.Length > 4 ? parts[4] : "pages";
            bool inPlace = io == "buffers";
            int order = parts.Length > 5 ? (int)Arguments.Number(parts[5]) : 0;
            if (!inPlace && io != "pages" && io != "persistent")
            {
                DomainConsole.WriteLine("disk: IO is pages, persistent or buffers, not " + io);
                return;
            }
            SharedInfo.Map();
            Grants.Initialise();
            StoreClient.Connect();
            if (order > BlockFront.MaxRingPageOrder)
            {
                DomainConsole.WriteLine("disk: ring page order " + DomainConsole.Decimal(order) + " is more than " + DomainConsole.Decimal(BlockFront.MaxRingPageOrder));
                return;
            }
            BlockFront disk = BlockFront.Open(0, persistent: io != "pages", buffers: inPlace ? s_va.Length : 0, ringPageOrder: order);
            if (disk == null)
            {
                DomainConsole.WriteLine("disk: no xvda was given to this domain");
                return;
            }
            if (!disk.WaitConnected(ConnectTimeoutNs))
            {
                DomainConsole.WriteLine("disk: xvda never connected");
                return;
            }
            DomainConsole.WriteLine("disk: xvda connected: " + DomainConsole.Decimal((long)disk.Sectors) + " sectors" + (disk.ReadOnly ? ", read-only" : "")
                + (disk.UsesPersistentGrants ? ", persistent grants" : "") + (inPlace ? ", buffers in place" : "")
                + (disk.RingPages > 1 ? ", " + DomainConsole.Decimal(disk.RingPages) + " ring pages" : ""));
            ulong requests = mib * 1024 * 1024 / (SectorsPerRequest * 512);
            if (requests * SectorsPerRequest > disk.Sectors)
            {
                DomainConsole.WriteLine("disk: xvda is smaller than " + DomainConsole.Decimal((long)mib) + " MiB");
                return;
            }
            for (int i = 0; i < s_va.Length; i++)
            {
                s_va[i] = inPlace ? disk.BufferAddress(i) : Pages.TakePage(out s_frame[i]);
                if (s_va[i] == 0)
                {
                    DomainConsole.WriteLine("disk: out of memory for buffers");
                    return;
                }
            }
            long failed = 0, wrong = 0, flushes = 0;
            ulong started = Clock.Now;
            for (ulong pass = 0; pass < passes; pass++)
            {
                ulong passSeed = seed + pass;
                if (mode != "verify")
                {
                    failed += Pass(disk, BlkifOperation.Write, requests, passSeed, inPlace, ref wrong);
                    // What was written is on stable storage before it is read back (blkback offers feature-flush-cache).
                    if (Flush(disk)) flushes++;
                    else failed++;
                }
                failed += Pass(disk, BlkifOperation.Read, requests, passSeed, inPlace, ref wrong);
                if (mode == "loop" && (pass + 1) % 50 == 0) DomainConsole.WriteLine("disk: pass " + DomainConsole.Decimal((long)pass + 1) + " of " + DomainConsole.Decimal((long)passes) + ": " + DomainConsole.Decimal(failed) + " failed, " + DomainConsole.Decimal(wrong) + " wrong");
            }
            ulong ms = (Clock.Now - started) / 1_000_000;
            DomainConsole.WriteLine("disk: " + mode + " " + DomainConsole.Decimal((long)mib) + " MiB x " + DomainConsole.Decimal((long)passes) + " in " + DomainConsole.Decimal((long)ms) + " ms: "
                + DomainConsole.Decimal(failed) + " requests failed, " + DomainConsole.Decimal(wrong) + " pages wrong, " + DomainConsole.Decimal(flushes) + " flushes; " + DomainConsole.Decimal(disk.Rings) + " rings, "
                + DomainConsole.Decimal(disk.Reissued) + " requests issued again, " + DomainConsole.Decimal(disk.BadResponses) + " bad responses");
            if (disk.Outages > 0) ReportOutages(disk);
        }

        /// <summary>From the back-end going away to the next answer: how many times, the median and the worst, in ms.</summary>
        private static void ReportOutages(BlockFront disk)
        {
            int n = Math.Min(disk.Outages, BlockFront.MaxOutages);
            var sorted = new ulong[n];
            for (int i = 0; i < n; i++) sorted[i] = disk.Outage(i);
            for (int i = 1; i < n; i++)
            {
                ulong x = sorted[i];
                int j = i - 1;
                while (j >= 0 && sorted[j] > x) { sorted[j + 1] = sorted[j]; j--; }
                sorted[j + 1] = x;
            }
            DomainConsole.WriteLine("disk: " + DomainConsole.Decimal(disk.Outages) + " back-end outages: median " + DomainConsole.Decimal((long)(sorted[n / 2] / 1_000_000))
                + " ms, worst " + DomainConsole.Decimal((long)(sorted[n - 1] / 1_000_000)) + " ms");
        }

        /// <summary>One flush of the disk's write cache, waited for; whether it was answered Okay.</summary>
        private static bool Flush(BlockFront disk)
        {
            Span<FrontCompletion> done = stackalloc FrontCompletion[1];
            if (!disk.TrySubmitFlush(ulong.MaxValue)) return false;
            while (true)
            {
                disk.Pump();
                if (disk.Reap(done) != 1) continue;
                if (done[0].Token == ulong.MaxValue && done[0].Status == BlkifStatus.Okay) return true;
                DomainConsole.WriteLine("disk: a flush was answered " + DomainConsole.Decimal((short)done[0].Status));
                return false;
            }
        }

        /// <summary>Every request of one pass, InFlight at a time; returns how many the back-end failed, and counts wrong pages of reads.</summary>
        private static long Pass(BlockFront disk, BlkifOperation operation, ulong requests, ulong seed, bool inPlace, ref long wrong)
        {
            Span<ulong> frames = stackalloc ulong[PagesPerRequest];
            Span<ulong> addresses = stackalloc ulong[PagesPerRequest];
            Span<int> buffers = stackalloc int[PagesPerRequest];
            Span<FrontCompletion> done = stackalloc FrontCompletion[InFlight];
            Span<ulong> slotRequest = stackalloc ulong[InFlight];
            Span<bool> busy = stackalloc bool[InFlight];
            ulong next = 0, finished = 0;
            long failed = 0;
            while (finished < requests)
            {
                for (int slot = 0; slot < InFlight && next < requests; slot++)
                {
                    if (busy[slot]) continue;
                    for (int p = 0; p < PagesPerRequest; p++)
                    {
                        int page = slot * PagesPerRequest + p;
                        if (operation == BlkifOperation.Write) Fill(s_va[page], seed, next * PagesPerRequest + (ulong)p);
                        frames[p] = s_frame[page];
                        addresses[p] = s_va[page];
                        buffers[p] = page;
                    }
                    bool queued = inPlace
                        ? disk.TrySubmitBuffers(operation, next * SectorsPerRequest, buffers, 7, (ulong)slot)
                        : disk.TrySubmit(operation, next * SectorsPerRequest, frames, addresses, 7, (ulong)slot);
                    if (!queued) break;
                    busy[slot] = true;
                    slotRequest[slot] = next++;
                }
                disk.Pump();
                int n = disk.Reap(done);
                for (int i = 0; i < n; i++)
                {
                    int slot = (int)done[i].Token;
                    busy[slot] = false;
                    finished++;
                    if (done[i].Status != BlkifStatus.Okay) failed++;
                    else if (operation == BlkifOperation.Read) wrong += Check(slot, seed, slotRequest[slot]);
                }
            }
            return failed;
        }

        private static long Check(int slot, ulong seed, ulong request)
        {
            long wrong = 0;
            for (int p = 0; p < PagesPerRequest; p++)
            {
                ulong* words = (ulong*)s_va[slot * PagesPerRequest + p];
                ulong page = request * PagesPerRequest + (ulong)p;
                // One of this domain's buffer pages, mapped for its life: 512 words.
                for (int w = 0; w < 512; w++)
                {
                    if (words[w] == SeededPatterns.DiskWord(seed, page, w)) continue;
                    wrong++;
                    break;
                }
            }
            return wrong;
        }

        private static void Fill(ulong va, ulong seed, ulong page)
        {
            ulong* words = (ulong*)va;
            // As in Check: a buffer page of this domain, 4096 bytes.
            for (int w = 0; w < 512; w++) words[w] = SeededPatterns.DiskWord(seed, page, w);
        }

        /// <summary>"a:b:c[:d[:e[:f]]]" into its parts; null unless it has three to six.</summary>
        private static string[] Split(string text)
        {
            int count = 1;
            for (int i = 0; i < text.Length; i++) if (text[i] == ':') count++;
            if (count < 3 || count > 6) return null;
            var parts = new string[count];
            int start = 0, at = 0;
            for (int i = 0; i <= text.Length; i++)
            {
                if (i < text.Length && text[i] != ':') continue;
                parts[at++] = text.Substring(start, i - start);
                start = i + 1;
            }
            return parts;
        }
    }
}

using System;
using System.Runtime;
using Keel.Runtime;

namespace Keel.Blkback
{
    /// <summary>
    /// blkback's entry. It starts the virtio-blk devices it was given; with direct=MiB on its command line it
    /// drives vda alone (DirectTest) and powers off; with bench-direct it first measures vda alone for the
    /// Bench target (DirectBench); then it serves the virtual block devices the
    /// toolstack gives it (Vbds) until it is destroyed. Its version is in the store at data/version, so a
    /// toolstack and a test can tell an upgrade happened. Writing "ud2" to data/fault makes it execute ud2:
    /// a real crash, which the control domain's serial shell injects to show a driver domain dying under load;
    /// a new value at data/stats-request makes it publish its counters at data/stats.
    /// </summary>
    internal static unsafe class BlockBackend
    {
#if BLKBACK_V2
        private const string Version = "2";
#else
        private const string Version = "1";
#endif

        private const ulong HeapBytes = 4 * 1024 * 1024;

        /// <summary>Longest watch-event path kept (the store's absolute path limit).</summary>
        private const int StoreMessagePathBytes = 3072;

        [RuntimeExport("keel_guest_main")]
        private static void Main()
        {
            SharedInfo.Map();
            // The image's boot heap is small; vbds, engines and the store client's strings get 4 MiB of fresh pages.
            Pages.DonateHeap(HeapBytes);
            PhysicalDisks.Start();
            string command = DomainEntry.CommandLine;
            if (command.StartsWith("direct="))
            {
                DirectTest.Run(command.Substring(7));
                return;
            }
            if (command == "bench-direct") DirectBench.Run();
            if (Grants.Initialise() != 0)
            {
                DomainConsole.WriteLine("blkback: no grant table");
                return;
            }
            StoreClient.Connect();
            StoreClient.Write("data/version", Version);
            StoreClient.Write("data/fault", "");
            StoreClient.Watch("data/fault", "fault");
            StoreClient.Write("data/stats-request", "");
            StoreClient.Watch("data/stats-request", "stats");
            ulong statsAsked = 0;
            Span<byte> eventPath = stackalloc byte[StoreMessagePathBytes];
            var disks = new SharedDisk[PhysicalDisks.Count];
            for (int i = 0; i < disks.Length; i++) disks[i] = new SharedDisk(PhysicalDisks.Disks[i]);
            Vbds.Start(disks);
            DomainConsole.WriteLine("blkback: version " + Version + " serving " + DomainConsole.Decimal(disks.Length) + " disk(s)");
            while (true)
            {
                Events.WaitUntil(Clock.Now + 100_000_000);
                PhysicalDisks.TakeAllInterrupts();
                Events.TakePending(StoreClient.Port);
                // The store client keeps one watch event at a time (a later one replaces it), so an event says
                // only that something changed: every watched node is looked at again, none by its path alone.
                bool changed = false;
                bool rescan = false;
                while (StoreClient.PollWatchEvent(eventPath, out int length))
                {
                    changed = true;
                    rescan |= Vbds.NeedsScan(eventPath.Slice(0, length));
                }
                if (changed)
                {
                    if (StoreClient.ReadEquals("data/fault", "ud2")) Crash();
                    // The counters are published only when asked: a string each time, and there is no collector.
                    if (StoreClient.ReadNumber("data/stats-request", out ulong asked, out _) && asked != statsAsked)
                    {
                        statsAsked = asked;
                        StoreClient.Write("data/stats", Vbds.Statistics());
                    }
                    if (rescan) Vbds.Scan();
                    else Vbds.FollowAll();
                }
                Vbds.Serve();
            }
        }

        private static void Crash()
        {
            DomainConsole.WriteLine("blkback: fault injected: executing ud2");
            Probes.Ud2();
        }
    }
}

using System.Runtime;
using Keel.Runtime;

namespace Keel.Blkback
{
    /// <summary>
    /// blkback's entry. It starts the virtio-blk devices it was given; with direct=MiB on its command line it
    /// drives vda alone (DirectTest) and powers off; otherwise it serves the virtual block devices the
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

        [RuntimeExport("keel_guest_main")]
        private static void Main()
        {
            SharedInfo.Map();
            PhysicalDisks.Start();
            string command = DomainEntry.CommandLine;
            if (command.StartsWith("direct="))
            {
                DirectTest.Run(command.Substring(7));
                return;
            }
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
            string statsAsked = "";
            var disks = new SharedDisk[PhysicalDisks.Count];
            for (int i = 0; i < disks.Length; i++) disks[i] = new SharedDisk(PhysicalDisks.Disks[i]);
            Vbds.Start(disks);
            DomainConsole.WriteLine("blkback: version " + Version + " serving " + DomainConsole.Decimal(disks.Length) + " disk(s)");
            while (true)
            {
                Events.WaitUntil(Clock.Now + 100_000_000);
                PhysicalDisks.TakeAllInterrupts();
                if (Events.TakePending(StoreClient.Port) | StoreClient.PollWatchEvent() != null)
                {
                    while (StoreClient.PollWatchEvent() != null) { }
                    if (StoreClient.Read("data/fault", out _) == "ud2") Crash();
                    // The counters are published only when asked (a string each time, and there is no collector).
                    string asked = StoreClient.Read("data/stats-request", out _);
                    if (asked != null && asked != statsAsked)
                    {
                        statsAsked = asked;
                        StoreClient.Write("data/stats", Vbds.Statistics());
                    }
                    Vbds.Scan();
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

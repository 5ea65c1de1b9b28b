using Keel.Runtime;

namespace Keel.Guests.Control
{
    /// <summary>
    /// The control domain's serial shell, a small `xl`: one command a line.
    ///   list              every domain of the manifest: id, state, memory pages, CPU time
    ///   destroy NAME      end it (no restart policy applies)
    ///   restart NAME      destroy it and build it again from the same kernel
    ///   upgrade NAME      destroy it and build it from its kernel_upgrade image, for good
    ///   crash NAME        inject a fault: the domain executes ud2 (it must watch data/fault, as blkback does)
    ///   stats NAME        asks the domain (data/stats-request) and prints what it publishes at data/stats
    ///                     (blkback: its virtual block devices' counters)
    /// Answers are lines beginning "shell: ".
    /// </summary>
    internal static class Shell
    {
        internal static void Run(string line)
        {
            string command = line, name = null;
            for (int i = 0; i < line.Length; i++)
            {
                if (line[i] != ' ') continue;
                command = line.Substring(0, i);
                name = line.Substring(i + 1);
                break;
            }
            if (command == "list")
            {
                List();
                return;
            }
            int index = name == null ? -1 : ControlDomain.IndexOf(name);
            if (command != "destroy" && command != "restart" && command != "upgrade" && command != "crash" && command != "stats")
            {
                Say("unknown command '" + command + "' (list, destroy, restart, upgrade, crash, stats)");
                return;
            }
            if (index < 0)
            {
                Say(command + ": no domain named '" + (name ?? "") + "'");
                return;
            }
            long id = ControlDomain.IdOf(index);
            string home = "/local/domain/" + DomainConsole.Decimal(id);
            switch (command)
            {
                case "destroy":
                    ControlDomain.Destroy(index);
                    Say("destroyed " + name + " (domain " + DomainConsole.Decimal(id) + ")");
                    break;
                case "restart":
                case "upgrade":
                    if (command == "upgrade" && !ControlDomain.HasUpgrade(index))
                    {
                        Say("upgrade: " + name + " has no kernel_upgrade");
                        return;
                    }
                    bool done = ControlDomain.Replace(index, command == "upgrade");
                    Say(command + " " + name + ": " + (done ? "now domain " + DomainConsole.Decimal(ControlDomain.IdOf(index)) : "failed"));
                    break;
                case "crash":
                    StoreService.WriteNode(home + "/data/fault", "ud2");
                    Say("fault injected into " + name + " (domain " + DomainConsole.Decimal(id) + ")");
                    break;
                default:
                    // The domain answers through the store, which this domain serves: the answer is printed a moment later (Tick).
                    StoreService.WriteNode(home + "/data/stats-request", DomainConsole.Decimal(++s_statsRequests));
                    s_statsDomain = index;
                    s_statsDue = Clock.Now + StatsWaitNs;
                    break;
            }
        }

        private const ulong StatsWaitNs = 300_000_000;

        private static int s_statsDomain = -1;
        private static ulong s_statsDue;
        private static long s_statsRequests;

        /// <summary>One turn of the control domain's loop: prints a stats answer once it is due.</summary>
        internal static void Tick()
        {
            if (s_statsDomain < 0 || Clock.Now < s_statsDue) return;
            string home = "/local/domain/" + DomainConsole.Decimal(ControlDomain.IdOf(s_statsDomain));
            Say("stats " + ControlDomain.NameOf(s_statsDomain) + ": " + (StoreService.ReadNode(home + "/data/stats") ?? "none published"));
            s_statsDomain = -1;
        }

        private static void List()
        {
            for (int i = 0; i < ControlDomain.DomainCount; i++)
            {
                long id = ControlDomain.IdOf(i);
                string state = "ended";
                string detail = "";
                if (id >= 0 && !ControlDomain.HasEnded(i) && Domctl.GetInfo((ushort)id, out DomainStatus status) == 0 && status.Id == id)
                {
                    state = status.HasEnded ? "ending" : "running";
                    detail = ", " + DomainConsole.Decimal((long)status.TotalPages) + " pages, " + DomainConsole.Decimal((long)(status.CpuTimeNs / 1_000_000)) + " ms of CPU";
                }
                string version = id >= 0 ? StoreService.ReadNode("/local/domain/" + DomainConsole.Decimal(id) + "/data/version") : null;
                Say(ControlDomain.NameOf(i) + " (domain " + DomainConsole.Decimal(id) + "): " + state + detail + (version != null && version.Length > 0 ? ", version " + version : ""));
            }
        }

        private static void Say(string text) => DomainConsole.WriteLine("shell: " + text);
    }
}

using System;
using System.Runtime;
using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Control
{
    /// <summary>
    /// The control domain. The kernel builds it first and hands it the manifest as its ramdisk; it builds
    /// every domain the manifest lists from the boot module the manifest names (domctl), starts them all,
    /// serves their consoles (ConsoleBackend), the store (StoreService) and the serial input (SerialConsole), then watches them (getdomaininfo whenever VIRQ_DOM_EXC fires, and
    /// every 50 ms besides), reports how each ends and, for a crash, why, restarts
    /// those whose policy says so, and, when the manifest asks, shuts the machine down once all have ended:
    /// with reason poweroff if every guest powered off, crash otherwise, so a script can tell. With the
    /// command line "domctl-test" it first checks its own domctl tools (DomctlSelfTest).
    /// </summary>
    internal static unsafe class ControlDomain
    {
        private const ulong PollInterval = 50_000_000;
        private const int MaxRestarts = 16;

        /// <summary>VIRQ_DOM_EXC (xen/include/public/xen.h): the kernel raises it when any domain ends.</summary>
        private const uint VirqDomainException = 3;

        private static Manifest s_manifest;
        private static long[] s_ids;
        private static bool[] s_ended;
        private static int s_restarts;

        /// <summary>Driver domains the control domain destroyed itself once every guest had ended.</summary>
        private static bool[] s_stopped;

        /// <summary>Domains switched to their kernel_upgrade image by the shell's upgrade: every later build uses it.</summary>
        private static bool[] s_upgraded;
        private static bool s_allPoweredOff = true;
        private static uint s_firstModule;

        [RuntimeExport("keel_guest_main")]
        private static void Main()
        {
            SharedInfo.Map();
            long grants = Grants.Initialise();
            if (grants != 0) DomainConsole.WriteLine("control: no grant table (" + DomainConsole.Decimal(grants) + "): consoles and the store cannot be served");
            else StoreService.Start();
            if (!ReadManifest(out s_firstModule)) Stop(ShutdownReason.Crash);
            // The manifest's first kernel is at module 1, right after the manifest itself.
            if (DomainEntry.CommandLine == "domctl-test") DomctlSelfTest.Run(s_firstModule + 1);
            ManifestDomain[] domains = s_manifest.Domains;
            s_ids = new long[domains.Length];
            s_ended = new bool[domains.Length];
            s_stopped = new bool[domains.Length];
            s_upgraded = new bool[domains.Length];
            ulong started = Clock.Now;
            // Every domain is built (its store nodes written, its console attached) before any runs, as a
            // toolstack sets a system up: a front-end then always finds its back-end's domain.
            for (int i = 0; i < domains.Length; i++) Build(i);
            WireDisks(-1);
            // Driver domains first, and their devices offered (InitWait) before any front-end starts: a
            // front-end such as GRUB's xendisk reads the back-end's state once at boot and does not wait for it.
            for (int i = 0; i < domains.Length; i++) if (domains[i].PciCount > 0) Run(i);
            WaitForBackends();
            for (int i = 0; i < domains.Length; i++) if (domains[i].PciCount == 0) Run(i);
            DomainConsole.WriteLine("control: " + DomainConsole.Decimal(domains.Length) + " domains started in " + DomainConsole.Decimal((long)((Clock.Now - started) / 1_000_000)) + " ms; "
                + DomainConsole.Decimal(CountRunning()) + " running at system time " + DomainConsole.Decimal((long)(Clock.Now / 1_000_000)) + " ms");
            long domainException = Events.BindVirq(VirqDomainException);
            if (domainException > 0) Events.Unmask((uint)domainException);
            SerialConsole.Bind();
            ulong nextWatch = Clock.Now + PollInterval;
            while (true)
            {
                Events.WaitUntil(nextWatch);
                ConsoleBackend.Serve();
                StoreService.Serve();
                SerialConsole.Serve();
                Shell.Tick();
                bool ended = domainException > 0 && Events.TakePending((uint)domainException);
                if (!ended && Clock.Now < nextWatch) continue;
                nextWatch = Clock.Now + PollInterval;
                if (Watch() && s_manifest.ExitWhenDone) Stop(s_allPoweredOff ? ShutdownReason.Poweroff : ShutdownReason.Crash);
                if (s_manifest.ExitWhenDone && GuestsEnded()) StopDriverDomains();
            }
        }

        /// <summary>The manifest from start_info's ramdisk, and the index of its boot module (module=N counts from it).</summary>
        private static bool ReadManifest(out uint firstModule)
        {
            firstModule = 0;
            StartInfo* info = DomainEntry.StartInfo;
            var text = new ReadOnlySpan<byte>((byte*)info->ModStart, (int)info->ModLen);
            ManifestError error = Manifest.TryRead(text, out s_manifest);
            if (error.IsError)
            {
                DomainConsole.WriteLine("control: the manifest is unusable: line " + DomainConsole.Decimal(error.Line) + ": " + Manifest.Describe(error.Problem));
                return false;
            }
            for (uint index = 0; Domctl.ModuleInfo(index, out string name, out _) == 0; index++)
            {
                if (name == "manifest")
                {
                    firstModule = index;
                    return true;
                }
            }
            DomainConsole.WriteLine("control: no boot module is named manifest");
            return false;
        }

        private static bool Build(int i)
        {
            ManifestDomain d = s_manifest.Domains[i];
            const ulong Ms = 1_000_000;
            int module = s_upgraded[i] && d.UpgradeModule != 0 ? d.UpgradeModule : d.Module;
            long id = Domctl.Build(s_firstModule + (uint)module, (uint)d.MemoryMiB, (uint)d.Weight, d.Name, d.CommandLine, out DomainServices services, (ulong)d.WarpMs * Ms, (ulong)d.WarpLimitMs * Ms, (ulong)d.UnwarpMs * Ms);
            s_ids[i] = id;
            if (id < 0)
            {
                DomainConsole.WriteLine("control: cannot build " + d.Name + ": error " + DomainConsole.Decimal(id));
                s_ended[i] = true;
                s_allPoweredOff = false;
                return false;
            }
            ConsoleBackend.Attach((ushort)id, d.Name, services);
            StoreService.Introduce((ushort)id, d.Name, (uint)d.MemoryMiB, services);
            for (int p = d.FirstPci; p < d.FirstPci + d.PciCount; p++)
            {
                uint sbdf = (uint)s_manifest.PciDevices[p].Sbdf;
                string refused = PciAttach.Attach((ushort)id, sbdf, d.Name);
                if (refused != null) DomainConsole.WriteLine("control: cannot give PCI " + PciAttach.Name(sbdf) + " to " + d.Name + ": " + refused);
            }
            return true;
        }

        private static void Run(int i)
        {
            if (s_ids[i] < 0) return;
            long rc = Domctl.Unpause((ushort)s_ids[i]);
            DomainConsole.WriteLine("control: started " + s_manifest.Domains[i].Name + " as domain " + DomainConsole.Decimal(s_ids[i]) + (rc == 0 ? "" : " (unpause: " + DomainConsole.Decimal(rc) + ")"));
        }

        /// <summary>How many of the manifest's domains getdomaininfo shows alive now.</summary>
        private static int CountRunning()
        {
            int running = 0;
            for (int i = 0; i < s_ids.Length; i++)
            {
                if (s_ids[i] >= 0 && Domctl.GetInfo((ushort)s_ids[i], out DomainStatus status) == 0 && status.Id == s_ids[i] && !status.HasEnded) running++;
            }
            return running;
        }

        /// <summary>Reports every domain that ended since the last look; true when none is left running.</summary>
        private static bool Watch()
        {
            bool allEnded = true;
            for (int i = 0; i < s_ids.Length; i++)
            {
                if (s_ended[i]) continue;
                if (Domctl.GetInfo((ushort)s_ids[i], out DomainStatus status) != 0 || status.Id != s_ids[i] || !status.HasEnded)
                {
                    allEnded = false;
                    continue;
                }
                ManifestDomain d = s_manifest.Domains[i];
                ConsoleBackend.Detach(status.Id);
                StoreService.Release(status.Id);
                UnplugDisksOf(i);
                string how = status.Reason == ShutdownReason.Crash ? "crash: " + Domctl.CrashReport(status.Id) : ShutdownReasons.Name(status.Reason);
                DomainConsole.WriteLine("control: " + d.Name + " (domain " + DomainConsole.Decimal(status.Id) + ") ended: " + how);
                if (status.Reason == ShutdownReason.Crash && d.OnCrash == DomainAction.Restart && s_restarts < MaxRestarts)
                {
                    s_restarts++;
                    DomainConsole.WriteLine("control: restarting " + d.Name + " (on_crash = restart)");
                    if (Build(i))
                    {
                        WireDisks(i);
                        Run(i);
                    }
                    allEnded = false;
                    continue;
                }
                s_ended[i] = true;
                if (status.Reason != ShutdownReason.Poweroff && !s_stopped[i]) s_allPoweredOff = false;
            }
            return allEnded;
        }


        private const ulong BackendWaitNs = 20_000_000_000;

        /// <summary>
        /// Serves the store and consoles until every manifest disk's back-end has published InitWait (state 2)
        /// or more, or 20 s have passed (a back-end that never comes leaves its front-ends to find it closed).
        /// </summary>
        private static void WaitForBackends()
        {
            ManifestDisk[] disks = s_manifest.Disks;
            // Each disk's back-end state node, made once (there is no collector); null for a disk not wired.
            var states = new string[disks.Length];
            for (int k = 0; k < disks.Length; k++)
            {
                long backend = s_ids[disks[k].Backend], frontend = s_ids[disks[k].Domain];
                if (backend < 0 || frontend < 0) continue;
                states[k] = "/local/domain/" + DomainConsole.Decimal(backend) + "/backend/vbd/" + DomainConsole.Decimal(frontend) + "/"
                    + DomainConsole.Decimal(Store.StoreSeeder.XvdDeviceId(disks[k].Vdev)) + "/state";
            }
            ulong deadline = Clock.Now + BackendWaitNs;
            while (Clock.Now < deadline)
            {
                int waiting = 0;
                for (int k = 0; k < disks.Length; k++)
                {
                    if (states[k] == null) continue;
                    string state = StoreService.ReadNode(states[k]);
                    if (state == null || state == "1") waiting++;
                }
                if (waiting == 0) return;
                Events.WaitUntil(Clock.Now + 10_000_000);
                ConsoleBackend.Serve();
                StoreService.Serve();
            }
            DomainConsole.WriteLine("control: a back-end did not offer its devices within 20 s; starting the guests anyway");
        }

        /// <summary>The manifest index of the domain with that name, or -1.</summary>
        internal static int IndexOf(string name)
        {
            for (int i = 0; i < s_ids.Length; i++) if (s_manifest.Domains[i].Name == name) return i;
            return -1;
        }

        internal static int DomainCount => s_ids.Length;

        internal static string NameOf(int i) => s_manifest.Domains[i].Name;

        internal static long IdOf(int i) => s_ids[i];

        internal static bool HasEnded(int i) => s_ended[i];

        internal static bool HasUpgrade(int i) => s_manifest.Domains[i].UpgradeModule != 0;

        /// <summary>
        /// The shell's restart and upgrade (xl destroy, then create again): the running domain is destroyed and
        /// taken back at once (its console, its store nodes), built again from its own kernel or, with upgrade,
        /// its kernel_upgrade image, given its devices and its disks' back-end nodes, and started. Its
        /// front-ends see the old back-end vanish and reconnect to the new one.
        /// </summary>
        internal static bool Replace(int i, bool upgrade)
        {
            if (upgrade && s_manifest.Domains[i].UpgradeModule == 0) return false;
            long old = s_ids[i];
            if (old >= 0 && !s_ended[i])
            {
                Domctl.Destroy((ushort)old);
                ConsoleBackend.Detach((ushort)old);
                StoreService.Release((ushort)old);
            }
            s_ended[i] = false;
            if (upgrade) s_upgraded[i] = true;
            if (!Build(i)) return false;
            WireDisks(i);
            Run(i);
            return true;
        }

        /// <summary>The shell's destroy (xl destroy): the domain ends; the next look reports it and applies no restart policy.</summary>
        internal static void Destroy(int i)
        {
            if (s_ids[i] >= 0 && !s_ended[i]) Domctl.Destroy((ushort)s_ids[i]);
        }

        /// <summary>Whether every domain that is not a driver domain (one given PCI devices) has ended, and there was one.</summary>
        private static bool GuestsEnded()
        {
            bool any = false;
            for (int i = 0; i < s_ids.Length; i++)
            {
                if (s_manifest.Domains[i].PciCount > 0) continue;
                if (!s_ended[i]) return false;
                any = true;
            }
            return any;
        }

        /// <summary>
        /// exit_when_done with only driver domains left: they serve nobody now, so they are destroyed (as
        /// `xl destroy` would) and the next look finds every domain ended. Destroyed is not a failure: a
        /// driver domain that never powers off by itself counts as powered off here.
        /// </summary>
        private static void StopDriverDomains()
        {
            for (int i = 0; i < s_ids.Length; i++)
            {
                if (s_ended[i] || s_ids[i] < 0 || s_manifest.Domains[i].PciCount == 0) continue;
                DomainConsole.WriteLine("control: every guest has ended; destroying driver domain " + s_manifest.Domains[i].Name);
                Domctl.Destroy((ushort)s_ids[i]);
                s_stopped[i] = true;
            }
        }

        /// <summary>
        /// Writes the store nodes of every manifest disk whose guest and back-end are built (a back-end's
        /// front-ends find it through them); with a back-end's index, only that back-end's disks, as it was
        /// just built again after a crash: its front-ends keep their own nodes and are pointed at it.
        /// </summary>
        private static void WireDisks(int backend)
        {
            ManifestDisk[] disks = s_manifest.Disks;
            for (int k = 0; k < disks.Length; k++)
            {
                if (backend >= 0 && disks[k].Backend != backend) continue;
                long frontendId = s_ids[disks[k].Domain], backendId = s_ids[disks[k].Backend];
                if (frontendId < 0 || backendId < 0 || s_ended[disks[k].Domain]) continue;
                StoreService.SeedDisk((ushort)frontendId, (ushort)backendId, disks[k], frontendToo: backend < 0);
            }
        }

        /// <summary>Domain i ended: the back-ends' directories for its disks go (libxl's device removal on destroy).</summary>
        private static void UnplugDisksOf(int i)
        {
            ManifestDisk[] disks = s_manifest.Disks;
            for (int k = 0; k < disks.Length; k++)
            {
                if (disks[k].Domain != i || s_ids[disks[k].Backend] < 0) continue;
                StoreService.RemoveBackends((ushort)s_ids[disks[k].Backend], (ushort)s_ids[i]);
            }
        }

        private static void Stop(ShutdownReason reason)
        {
            DomainConsole.WriteLine(reason == ShutdownReason.Poweroff ? "control: every domain powered off; shutting down" : "control: a domain did not power off; shutting down with reason crash");
            Hypercall.Shutdown(reason);
        }
    }
}

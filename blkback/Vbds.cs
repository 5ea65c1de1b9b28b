using Keel.Blkback.Core;
using Keel.Ringlib;
using Keel.Ringlib.Protocols;
using Keel.Runtime;

namespace Keel.Blkback
{
    /// <summary>
    /// The virtual block devices the toolstack gave this back-end, as Xen's blkback finds them: each a
    /// directory backend/vbd/FE/DEVID (written by the control domain: frontend, params, mode, ...). For
    /// each, blkback checks the target against its disks, publishes what a front-end needs (sectors,
    /// sector-size, info, the feature keys) and InitWait, then follows the front-end through the XenBus
    /// handshake (XenbusHandshake.BackendStep): it maps the ring and binds the port when the front-end is
    /// Initialised, lets go when it closes or its directory vanishes, and offers the device again when it
    /// starts over. Every store value is the front-end's claim: a ring-ref or port that cannot be mapped or
    /// bound ends in Closing for that vbd alone.
    /// </summary>
    internal static unsafe class Vbds
    {
        internal const int MaxVbds = 32;

        private sealed class Vbd
        {
            internal bool Used, Present, SetUp;
            internal ushort Frontend;
            internal string BackPath, FrontPath, Name;

            /// <summary>The store paths read or written on every handshake step, made once so that a front-end
            /// changing state over and over costs no memory.</summary>
            internal string StatePath, FrontStatePath, RingRefPath, RingPageOrderPath, EventChannelPath, ProtocolPath, PersistentPath;
            internal readonly string[] RingRefPaths = new string[MaxRingPages];
            internal int Connections;
            internal XenbusState State;
            internal int Disk;
            internal ulong Start, Sectors;
            internal bool ReadOnly;
            internal bool Persistent;
            internal DiskView View;
            internal readonly PortNotifier Notifier = new PortNotifier();
            internal VirtualBlockDevice Engine;

            /// <summary>An engine per ring page order, made when a front-end first uses that order and kept: a
            /// front-end that reconnects with other ring sizes over and over costs at most one engine each.</summary>
            internal readonly VirtualBlockDevice[] Engines = new VirtualBlockDevice[BlkifRingPages.MaxPageOrder + 1];
            internal bool Connected;
            internal ulong RingWindow;
            internal int RingPages;
            internal readonly uint[] RingHandles = new uint[MaxRingPages];
        }

        private const int MaxRingPages = 1 << BlkifRingPages.MaxPageOrder;

        private static readonly Vbd[] s_vbds = new Vbd[MaxVbds];

        /// <summary>Each slot's view of each disk, made when first needed and kept (SharedDisk allows one per slot).</summary>
        private static readonly DiskView[] s_views = new DiskView[MaxVbds * PhysicalDisks.MaxDisks];
        private static readonly DomainGrants s_grants = new DomainGrants();
        private static SharedDisk[] s_disks;

        internal static void Start(SharedDisk[] disks)
        {
            s_disks = disks;
            for (int i = 0; i < MaxVbds; i++) s_vbds[i] = new Vbd();
            StoreClient.Watch("backend/vbd", "vbd");
            Scan();
        }

        /// <summary>
        /// Whether a watch event's path (as registered: relative for this domain's own nodes) asks for a full
        /// look at the vbd directories: the toolstack adding or removing one, or writing the nodes of one not
        /// yet set up. Anything else (a front-end's state, this domain's own writes) needs only FollowAll.
        /// </summary>
        internal static bool NeedsScan(System.ReadOnlySpan<byte> path)
        {
            if (!StartsWith(path, "backend/vbd")) return false;
            int depth = 0;
            for (int i = 11; i < path.Length; i++) if (path[i] == (byte)'/') depth++;
            return depth <= 2 || !AllSetUp();
        }

        /// <summary>Follows every set-up vbd's front-end one step, at no cost in memory (its state read as a number).</summary>
        internal static void FollowAll()
        {
            for (int i = 0; i < MaxVbds; i++)
            {
                if (s_vbds[i].Used) Follow(s_vbds[i]);
            }
        }

        private static bool AllSetUp()
        {
            for (int i = 0; i < MaxVbds; i++) if (s_vbds[i].Used && !s_vbds[i].SetUp) return false;
            return true;
        }

        private static bool StartsWith(System.ReadOnlySpan<byte> bytes, string text)
        {
            if (bytes.Length < text.Length) return false;
            for (int i = 0; i < text.Length; i++) if (bytes[i] != text[i]) return false;
            return true;
        }

        /// <summary>Looks again at every vbd directory and every front-end's state.</summary>
        internal static void Scan()
        {
            for (int i = 0; i < MaxVbds; i++) s_vbds[i].Present = false;
            string frontends = StoreClient.Directory("backend/vbd", out StoreError error);
            int at = 0;
            while (error == StoreError.None && NextName(frontends, ref at, out string frontend)) ScanFrontend(frontend);
            for (int i = 0; i < MaxVbds; i++)
            {
                Vbd v = s_vbds[i];
                if (!v.Used) continue;
                if (!v.Present)
                {
                    // The toolstack removed the device (its front-end's domain ended): let go and free the slot.
                    Disconnect(v, XenbusState.Closed, publish: false);
                    v.Used = false;
                    DomainConsole.WriteLine("blkback: " + v.Name + " of domain " + DomainConsole.Decimal(v.Frontend) + " removed");
                    continue;
                }
                Follow(v);
            }
        }

        /// <summary>Every vbd's counters on one line, for data/stats (the shell's stats command reads it).</summary>
        internal static string Statistics()
        {
            string text = "";
            for (int i = 0; i < MaxVbds; i++)
            {
                Vbd v = s_vbds[i];
                if (!v.Used || v.Engine == null) continue;
                VbdStatistics s = v.Engine.Statistics;
                text += (text.Length > 0 ? "; " : "") + v.Name + " of domain " + DomainConsole.Decimal(v.Frontend) + ": " + DomainConsole.Decimal((long)s.Requests) + " requests, "
                    + DomainConsole.Decimal((long)s.Merged) + " merged, " + DomainConsole.Decimal((long)s.DeviceRequests) + " to the disk, " + DomainConsole.Decimal((long)(s.BytesRead >> 20)) + " MiB read, "
                    + DomainConsole.Decimal((long)(s.BytesWritten >> 20)) + " MiB written, " + DomainConsole.Decimal((long)s.Flushes) + " flushes, " + DomainConsole.Decimal((long)s.Errors) + " errors, persistent " + (v.Persistent ? "on" : "off");
            }
            return text;
        }

        /// <summary>Serves every connected vbd: requests on its ring (when its port fired) and the disk's completions.</summary>
        internal static void Serve()
        {
            for (int i = 0; i < MaxVbds; i++)
            {
                Vbd v = s_vbds[i];
                if (!v.Used || !v.Connected) continue;
                Events.TakePending(v.Notifier.Port);
                // Completions end with a ring pass of their own, which takes what the front-end published: one
                // pass, not two. Nothing of an idle vbd's is on the disk, so its ring alone is looked at.
                if (v.Engine.InFlight > 0) v.Engine.ProcessCompletions();
                else v.Engine.ProcessRing();
                if (v.Engine.IsCutOff)
                {
                    DomainConsole.WriteLine("blkback: " + v.Name + " of domain " + DomainConsole.Decimal(v.Frontend) + " cut off: its ring's indices are impossible");
                    Disconnect(v, XenbusState.Closing, publish: true);
                }
            }
        }

        private static void ScanFrontend(string frontend)
        {
            ulong id = Number(frontend);
            if (id >= Ringlib.Xen.DomainIds.Self) return;
            string devices = StoreClient.Directory("backend/vbd/" + frontend, out StoreError error);
            int at = 0;
            while (error == StoreError.None && NextName(devices, ref at, out string device)) Notice((ushort)id, "backend/vbd/" + frontend + "/" + device);
        }

        private static void Notice(ushort frontend, string path)
        {
            for (int i = 0; i < MaxVbds; i++)
            {
                if (s_vbds[i].Used && s_vbds[i].BackPath == path)
                {
                    s_vbds[i].Present = true;
                    if (!s_vbds[i].SetUp) Setup(s_vbds[i]);
                    return;
                }
            }
            for (int i = 0; i < MaxVbds; i++)
            {
                if (s_vbds[i].Used) continue;
                Vbd v = s_vbds[i];
                v.Used = true;
                v.Present = true;
                v.Frontend = frontend;
                v.BackPath = path;
                v.StatePath = path + "/state";
                v.Connected = false;
                v.SetUp = false;
                v.Connections = 0;
                Setup(v);
                return;
            }
            DomainConsole.WriteLine("blkback: more than " + DomainConsole.Decimal(MaxVbds) + " virtual block devices; " + path + " is not served");
        }

        /// <summary>Checks params and mode, publishes the device's size and features, then InitWait (Xen's blkback: backend_changed, then connect's nodes early).</summary>
        private static void Setup(Vbd v)
        {
            string target = StoreClient.Read(v.BackPath + "/params", out StoreError missing);
            // The toolstack writes the directory before its nodes: until params is there, wait for its next write.
            if (missing != StoreError.None) return;
            v.FrontPath = StoreClient.Read(v.BackPath + "/frontend", out _);
            v.Name = StoreClient.Read(v.BackPath + "/dev", out _) ?? "?";
            string mode = StoreClient.Read(v.BackPath + "/mode", out _);
            v.ReadOnly = mode != "w";
            v.SetUp = true;
            if (v.FrontPath != null)
            {
                v.FrontStatePath = v.FrontPath + "/state";
                v.RingRefPath = v.FrontPath + "/ring-ref";
                v.RingPageOrderPath = v.FrontPath + "/ring-page-order";
                for (int i = 0; i < MaxRingPages; i++) v.RingRefPaths[i] = v.RingRefPath + DomainConsole.Decimal(i);
                v.EventChannelPath = v.FrontPath + "/event-channel";
                v.ProtocolPath = v.FrontPath + "/protocol";
                v.PersistentPath = v.FrontPath + "/feature-persistent";
            }
            string problem = ParseTarget(target, v);
            if (problem != null)
            {
                DomainConsole.WriteLine("blkback: " + v.Name + " of domain " + DomainConsole.Decimal(v.Frontend) + ": " + problem);
                Publish(v, XenbusState.Closed);
                return;
            }
            v.View = ViewFor(v);
            StoreClient.Write(v.BackPath + "/sectors", DomainConsole.Decimal((long)v.Sectors));
            StoreClient.Write(v.BackPath + "/sector-size", "512");
            StoreClient.Write(v.BackPath + "/physical-sector-size", "512");
            StoreClient.Write(v.BackPath + "/info", v.ReadOnly ? DomainConsole.Decimal(Blkif.VdiskReadOnly) : "0");
            StoreClient.Write(v.BackPath + "/feature-flush-cache", "1");
            StoreClient.Write(v.BackPath + "/feature-barrier", "0");
            StoreClient.Write(v.BackPath + "/feature-discard", "0");
            StoreClient.Write(v.BackPath + "/feature-persistent", "1");
            StoreClient.Write(v.BackPath + "/feature-max-indirect-segments", DomainConsole.Decimal(VbdFeatures.DefaultMaxIndirectSegments));
            StoreClient.Write(v.BackPath + "/max-ring-page-order", DomainConsole.Decimal(BlkifRingPages.MaxPageOrder));
            if (v.FrontPath != null) StoreClient.Watch(v.FrontStatePath, "vbd");
            Publish(v, XenbusState.InitWait);
            DomainConsole.WriteLine("blkback: " + v.Name + " of domain " + DomainConsole.Decimal(v.Frontend) + " is " + PhysicalDisks.Name(v.Disk) + " sectors "
                + DomainConsole.Decimal((long)v.Start) + "+" + DomainConsole.Decimal((long)v.Sectors) + (v.ReadOnly ? ", read-only" : ", read-write") + "; waiting for it");
        }

        private static DiskView ViewFor(Vbd v)
        {
            int slot = 0;
            while (s_vbds[slot] != v) slot++;
            ref DiskView view = ref s_views[slot * PhysicalDisks.MaxDisks + v.Disk];
            view ??= s_disks[v.Disk].NewView();
            return view;
        }

        /// <summary>"vdX" (the whole disk) or "vdX:START+COUNT", on one of this back-end's disks; null, or what is wrong.</summary>
        private static string ParseTarget(string target, Vbd v)
        {
            if (target == null || target.Length < 3 || target[0] != 'v' || target[1] != 'd') return "params names no disk";
            int disk = target[2] - 'a';
            if (disk < 0 || disk >= PhysicalDisks.Count) return "params names " + target + ", a disk this back-end does not have";
            ulong capacity = PhysicalDisks.Disks[disk].Capacity;
            v.Disk = disk;
            if (target.Length == 3)
            {
                v.Start = 0;
                v.Sectors = capacity;
                return null;
            }
            int plus = 4;
            while (plus < target.Length && target[plus] != '+') plus++;
            if (plus == target.Length) plus = -1;
            if (target[3] != ':' || plus < 0) return "params " + target + " is not vdX:START+COUNT";
            v.Start = Number(target.Substring(4, plus - 4));
            v.Sectors = Number(target.Substring(plus + 1));
            if (v.Sectors == 0 || v.Start > capacity || v.Sectors > capacity - v.Start)
            {
                return "sectors " + DomainConsole.Decimal((long)v.Start) + "+" + DomainConsole.Decimal((long)v.Sectors) + " do not lie on " + PhysicalDisks.Name(disk) + " (" + DomainConsole.Decimal((long)capacity) + " sectors)";
            }
            return null;
        }

        private static void Follow(Vbd v)
        {
            if (!v.SetUp || v.FrontPath == null || v.View == null) return;
            XenbusState frontend = StoreClient.ReadNumber(v.FrontStatePath, out ulong state, out _) && state <= uint.MaxValue ? (XenbusState)state : XenbusState.Unknown;
            XenbusStep step = XenbusHandshake.BackendStep(v.State, frontend, out XenbusState next);
            switch (step)
            {
                case XenbusStep.Connect:
                    Publish(v, Connect(v) ? XenbusState.Connected : XenbusState.Closing);
                    break;
                case XenbusStep.Disconnect:
                    Disconnect(v, next, publish: true);
                    break;
                case XenbusStep.Reopen:
                    Publish(v, XenbusState.InitWait);
                    break;
            }
        }

        /// <summary>Maps the front-end's ring and binds its port (event-channel): Xen's connect_ring. The ring is
        /// one page named by ring-ref, or, with ring-page-order N (at most the max-ring-page-order offered),
        /// 2^N pages named by ring-ref0 .. ring-ref(2^N - 1), mapped side by side (blkback's read_per_ring_refs).</summary>
        private static bool Connect(Vbd v)
        {
            if (!StoreClient.ReadNumber(v.EventChannelPath, out ulong remotePort, out _) || remotePort > uint.MaxValue)
            {
                return Refuse(v, "no usable event-channel");
            }
            int order = 0;
            bool paged = StoreClient.ReadNumber(v.RingPageOrderPath, out ulong givenOrder, out StoreError orderMissing);
            if (paged)
            {
                if (givenOrder > BlkifRingPages.MaxPageOrder) return Refuse(v, "its ring-page-order is more than the " + DomainConsole.Decimal(BlkifRingPages.MaxPageOrder) + " offered");
                order = (int)givenOrder;
            }
            else if (orderMissing != StoreError.ENOENT)
            {
                return Refuse(v, "its ring-page-order is not a number");
            }
            // No protocol node means the native one (io/blkif.h); any other must be x86_64-abi.
            StoreClient.ReadNumber(v.ProtocolPath, out _, out StoreError protocolMissing);
            if (protocolMissing != StoreError.ENOENT && !StoreClient.ReadEquals(v.ProtocolPath, "x86_64-abi")) return Refuse(v, "its protocol is not x86_64-abi");
            // Persistent grants only when both ends offer them (io/blkif.h, feature-persistent): such a front-end
            // grants its pool pages writable for good; any other grants each page as its request needs.
            v.Persistent = StoreClient.ReadEquals(v.PersistentPath, "1");
            if (!MapRing(v, paged, 1 << order, out ulong firstRef)) return false;
            long port = Events.BindInterdomain(v.Frontend, (uint)remotePort);
            if (port <= 0)
            {
                UnmapRing(v);
                return Refuse(v, "its event-channel " + DomainConsole.Decimal((long)remotePort) + " could not be bound");
            }
            v.Notifier.Port = (uint)port;
            Events.Unmask(v.Notifier.Port);
            if (!BlkifRingPages.TryAttach((void*)v.RingWindow, order, out BackRing<BlkifRequest, BlkifResponse> ring)
                || !Attach(v, order, ring))
            {
                Events.Close(v.Notifier.Port);
                UnmapRing(v);
                return Refuse(v, "the engine could not be set up");
            }
            v.Connected = true;
            v.Connections++;
            if (Chatty(v))
            {
                DomainConsole.WriteLine("blkback: " + v.Name + " of domain " + DomainConsole.Decimal(v.Frontend) + " connected (ring-ref " + DomainConsole.Decimal((long)firstRef)
                    + (order > 0 ? ", " + DomainConsole.Decimal(1 << order) + " ring pages" : "") + ")");
            }
            return true;
        }

        /// <summary>Maps the ring's pages side by side in the vbd's window (taken once, for the largest ring);
        /// on any refusal what was mapped is unmapped again.</summary>
        private static bool MapRing(Vbd v, bool paged, int pages, out ulong firstRef)
        {
            firstRef = 0;
            if (v.RingWindow == 0) v.RingWindow = Pages.TakeWindow(MaxRingPages);
            if (v.RingWindow == 0) return Refuse(v, "no address space for its ring");
            v.RingPages = 0;
            for (int i = 0; i < pages; i++)
            {
                string path = paged ? v.RingRefPaths[i] : v.RingRefPath;
                if (!StoreClient.ReadNumber(path, out ulong reference, out _) || reference > uint.MaxValue)
                {
                    UnmapRing(v);
                    return Refuse(v, "no usable " + (paged ? "ring-ref" + DomainConsole.Decimal(i) : "ring-ref"));
                }
                if (i == 0) firstRef = reference;
                if (Grants.Map(v.Frontend, (uint)reference, v.RingWindow + (ulong)i * Memory.PageSize, readOnly: false, out v.RingHandles[i]) != 0)
                {
                    UnmapRing(v);
                    return Refuse(v, "its ring-ref " + DomainConsole.Decimal((long)reference) + " could not be mapped");
                }
                v.RingPages++;
            }
            return true;
        }

        private static void UnmapRing(Vbd v)
        {
            for (int i = 0; i < v.RingPages; i++) Grants.Unmap(v.RingWindow + (ulong)i * Memory.PageSize, v.RingHandles[i]);
            v.RingPages = 0;
        }

        private static bool Attach(Vbd v, int order, BackRing<BlkifRequest, BlkifResponse> ring)
        {
            var extent = new VbdExtent(v.View, v.Start, v.Sectors, v.ReadOnly);
            var features = new VbdFeatures(VbdFeatures.DefaultMaxIndirectSegments, v.Persistent);
            // The same vbd reconnecting with a ring of the same order reuses that order's engine; a slot given
            // to another vbd needs a new one.
            VirtualBlockDevice engine = v.Engines[order];
            if (engine != null && engine.Features.PersistentGrants == v.Persistent && engine.Frontend == v.Frontend
                && engine.Extent.Disk == v.View && engine.Extent.Start == v.Start && engine.Extent.Sectors == v.Sectors && engine.Extent.ReadOnly == v.ReadOnly)
            {
                if (!engine.TryReattach(ring)) return false;
            }
            else if (!VirtualBlockDevice.TryCreate(v.Frontend, extent, features, ring, s_grants, v.Notifier, out engine))
            {
                return false;
            }
            v.Engines[order] = engine;
            v.Engine = engine;
            return true;
        }

        private static bool Refuse(Vbd v, string why)
        {
            if (Chatty(v)) DomainConsole.WriteLine("blkback: " + v.Name + " of domain " + DomainConsole.Decimal(v.Frontend) + ": " + why);
            return false;
        }

        /// <summary>A vbd's first connections are reported; after that blkback stays quiet, since each line is a
        /// string for good and a front-end may reconnect for ever.</summary>
        private static bool Chatty(Vbd v) => v.Connections <= QuietAfter;

        private const int QuietAfter = 8;

        /// <summary>
        /// Stops taking requests, lets what the disk has in flight finish (answers the front-end may never
        /// read), unmaps everything and closes the port; never waits on the front-end.
        /// </summary>
        private static void Disconnect(Vbd v, XenbusState next, bool publish)
        {
            if (v.Connected)
            {
                v.Engine.Disconnect();
                while (v.Engine.InFlight > 0)
                {
                    Events.WaitUntil(Clock.Now + 1_000_000);
                    PhysicalDisks.TakeAllInterrupts();
                    v.Engine.ProcessCompletions();
                }
                Events.Close(v.Notifier.Port);
                UnmapRing(v);
                v.Connected = false;
                if (Chatty(v)) DomainConsole.WriteLine("blkback: " + v.Name + " of domain " + DomainConsole.Decimal(v.Frontend) + " disconnected");
            }
            if (publish) Publish(v, next);
            else v.State = next;
        }

        private static void Publish(Vbd v, XenbusState state)
        {
            v.State = state;
            StoreClient.Write(v.StatePath, StateText((int)state));
        }

        /// <summary>The states' decimal text, made once.</summary>
        private static string StateText(int state)
        {
            if (s_stateText == null)
            {
                s_stateText = new string[9];
                for (int i = 0; i < s_stateText.Length; i++) s_stateText[i] = DomainConsole.Decimal(i);
            }
            return state >= 0 && state < s_stateText.Length ? s_stateText[state] : "0";
        }

        private static string[] s_stateText;

        /// <summary>The next of the NUL-separated names of a DIRECTORY reply, from at; false after the last.</summary>
        private static bool NextName(string names, ref int at, out string name)
        {
            name = null;
            while (at < names.Length && names[at] == '\0') at++;
            if (at >= names.Length) return false;
            int start = at;
            while (at < names.Length && names[at] != '\0') at++;
            name = names.Substring(start, at - start);
            return true;
        }

        private static ulong Number(string text) => DomainConsole.TryParseDecimal(text, out ulong value) ? value : ulong.MaxValue;
    }
}

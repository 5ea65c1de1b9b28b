using System;
using Keel.Guests.Control.Store;
using Keel.Ringlib.Protocols;
using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Control
{
    /// <summary>
    /// The store (xenstored) as the control domain runs it: one <see cref="StoreServer"/>, the nodes libxl
    /// writes for every domain the control domain builds, then INTRODUCE of the domain's store page (mapped
    /// through the grant the builder left at GNTTAB_RESERVED_XENSTORE) and port, before the domain runs.
    /// Each time a store port fires, that domain's ring is served. When a domain ends it is released: its
    /// connection, watches and transactions go, and @releaseDomain fires.
    ///
    /// The pools are sized for the machine's largest manifests (128 guests and their services): the heap is
    /// moved onto fresh pages of the control domain first, since the image's own heap is 1 MiB.
    /// </summary>
    internal static unsafe class StoreService
    {
        private const int MaxPorts = (int)Events.PortCount;
        private const ulong HeapBytes = 12UL << 20;

        private static StoreServer s_store;
        private static readonly ushort[] s_domainOfPort = new ushort[MaxPorts];

        private sealed class Host : StoreHost
        {
            internal readonly uint[] PortOf = new uint[DomainCapacity];
            internal readonly ulong[] WindowOf = new ulong[DomainCapacity];
            internal readonly uint[] HandleOf = new uint[DomainCapacity];

            public override StoreRingPage* Connect(uint domid, ulong mfn, uint port)
            {
                if (domid >= DomainCapacity) return null;
                ulong window = Pages.TakeWindow(1);
                if (window == 0) return null;
                if (Grants.Map((ushort)domid, GrantEntry.ReservedStore, window, readOnly: false, out uint handle) != 0)
                {
                    Pages.ReturnWindow(window);
                    return null;
                }
                long local = Events.BindInterdomain((ushort)domid, port);
                if (local <= 0 || local >= MaxPorts)
                {
                    Grants.Unmap(window, handle);
                    Pages.ReturnWindow(window);
                    return null;
                }
                PortOf[domid] = (uint)local;
                WindowOf[domid] = window;
                HandleOf[domid] = handle;
                s_domainOfPort[local] = (ushort)domid;
                Events.Unmask((uint)local);
                return (StoreRingPage*)window;
            }

            public override void Disconnect(uint domid)
            {
                if (domid >= DomainCapacity || PortOf[domid] == 0) return;
                Events.Close(PortOf[domid]);
                s_domainOfPort[PortOf[domid]] = 0;
                Grants.Unmap(WindowOf[domid], HandleOf[domid]);
                Pages.ReturnWindow(WindowOf[domid]);
                PortOf[domid] = 0;
            }

            public override bool Exists(uint domid) =>
                domid < DomainCapacity && Domctl.GetInfo((ushort)domid, out DomainStatus status) == 0 && status.Id == domid && !status.HasEnded;

            public override void Notify(uint domid)
            {
                if (domid < DomainCapacity && PortOf[domid] != 0) Events.Send(PortOf[domid]);
            }
        }

        /// <summary>Keel's domain table holds 1024 domains; ids are never reused.</summary>
        private const int DomainCapacity = 1024;

        private static Host s_host;

        internal static bool Start()
        {
            if (!Pages.DonateHeap(HeapBytes))
            {
                DomainConsole.WriteLine("control: too little memory for the store");
                return false;
            }
            StoreLimits limits = StoreLimits.Default;
            limits.Domains = 160;
            limits.Connections = 160;
            limits.OutputBytes = 8192;
            s_host = new Host();
            s_store = new StoreServer(limits, s_host);
            StoreError error = StoreSeeder.SeedControlDomain(s_store, "dom0"u8);
            if (error != StoreError.None) DomainConsole.WriteLine("control: the store's own nodes: error " + DomainConsole.Decimal((long)error));
            return error == StoreError.None;
        }

        /// <summary>Writes the domain's nodes and introduces it; false (and says why) on failure.</summary>
        internal static bool Introduce(ushort domain, string name, uint memoryMiB, in DomainServices services)
        {
            if (s_store == null) return false;
            Span<byte> nameBytes = Ascii(name, stackalloc byte[name.Length]);
            var seed = new StoreDomainSeed
            {
                Domid = domain,
                TargetKiB = (ulong)memoryMiB * 1024,
                MaxKiB = (ulong)memoryMiB * 1024,
                Vcpus = 1,
                StoreMfn = services.StoreFrame,
                StorePort = services.StorePort,
                ConsoleMfn = services.ConsoleFrame,
                ConsolePort = services.ConsolePort,
            };
            StoreError error = StoreSeeder.SeedDomain(s_store, seed, nameBytes);
            if (error == StoreError.None) error = s_store.IntroduceDomain(domain, services.StoreFrame, services.StorePort);
            if (error != StoreError.None) DomainConsole.WriteLine("control: the store cannot serve " + name + ": error " + DomainConsole.Decimal((long)error));
            return error == StoreError.None;
        }

        /// <summary>
        /// Writes a manifest disk's back-end and front-end nodes (StoreSeeder.SeedDisk): the params node names
        /// the back-end's physical disk as "vdX" or "vdX:START+COUNT". frontendToo false: a back-end restarted,
        /// whose front-end keeps its nodes and is pointed at the new one.
        /// </summary>
        internal static bool SeedDisk(ushort frontend, ushort backend, in ManifestDisk disk, bool frontendToo)
        {
            if (s_store == null) return false;
            string target = "vd" + (char)('a' + disk.Target) + (disk.Sectors != 0 ? ":" + DomainConsole.Decimal(disk.StartSector) + "+" + DomainConsole.Decimal(disk.Sectors) : "");
            string vdev = "xvd" + (char)('a' + disk.Vdev);
            Span<byte> targetBytes = Ascii(target, stackalloc byte[target.Length]);
            Span<byte> vdevBytes = Ascii(vdev, stackalloc byte[vdev.Length]);
            var seed = new StoreDiskSeed { Frontend = frontend, Backend = backend, DeviceId = StoreSeeder.XvdDeviceId(disk.Vdev), Writable = disk.Writable };
            StoreError error = StoreSeeder.SeedDisk(s_store, seed, vdevBytes, targetBytes, frontendToo);
            s_store.Flush();
            if (error != StoreError.None) DomainConsole.WriteLine("control: the store cannot wire " + vdev + " of domain " + DomainConsole.Decimal(frontend) + ": error " + DomainConsole.Decimal((long)error));
            return error == StoreError.None;
        }

        /// <summary>The string's characters as bytes into destination (its length): the store's paths and values are ASCII.</summary>
        private static Span<byte> Ascii(string text, Span<byte> destination)
        {
            for (int i = 0; i < text.Length; i++) destination[i] = (byte)text[i];
            return destination;
        }

        /// <summary>The shell's write of one node, as the privileged domain.</summary>
        internal static void WriteNode(string path, string value)
        {
            if (s_store == null) return;
            s_store.Write(Ascii(path, stackalloc byte[path.Length]), Ascii(value, stackalloc byte[value.Length]));
            s_store.Flush();
        }

        /// <summary>The shell's read of one node (printable ASCII, at most 1 KiB), or null if it is not there.</summary>
        internal static string ReadNode(string path)
        {
            if (s_store == null) return null;
            Span<byte> value = stackalloc byte[1024];
            if (s_store.Read(Ascii(path, stackalloc byte[path.Length]), value, out int length) != StoreError.None) return null;
            return DomctlAbi.Text(value.Slice(0, length));
        }

        /// <summary>A front-end's domain ended: its back-end's directories for it go, as libxl removes a destroyed domain's devices.</summary>
        internal static void RemoveBackends(ushort backend, ushort frontend)
        {
            if (s_store == null) return;
            Span<byte> path = stackalloc byte[64];
            int length = StorePath.DomainPath(backend, path);
            "/backend/vbd/"u8.CopyTo(path.Slice(length));
            length += 13;
            length += DecimalText.Write(frontend, path.Slice(length));
            s_store.Remove(path.Slice(0, length));
            s_store.Flush();
        }

        /// <summary>The domain ended: the store lets it go (its nodes removed, @releaseDomain fired), and the
        /// toolstack's nodes for it go too, as libxl removes /local/domain/ID and /vm/ID when it destroys a domain.</summary>
        internal static void Release(ushort domain)
        {
            if (s_store == null) return;
            s_store.DomainShutDown(domain);
            s_store.ReleaseDomain(domain);
            Span<byte> path = stackalloc byte[32];
            int length = StorePath.DomainPath(domain, path);
            s_store.Remove(path.Slice(0, length));
            "/vm/"u8.CopyTo(path);
            length = 4 + DecimalText.Write(domain, path.Slice(4));
            s_store.Remove(path.Slice(0, length));
            s_store.Flush();
        }

        /// <summary>Serves every domain whose store port fired, until none asks for more.</summary>
        internal static void Serve()
        {
            if (s_store == null) return;
            for (uint p = Events.NextPending(1); p != 0 && p < MaxPorts; p = Events.NextPending(p + 1))
            {
                ushort domain = s_domainOfPort[p];
                if (domain == 0 || !Events.TakePending(p)) continue;
                while (s_store.Service(domain)) { }
            }
        }
    }
}

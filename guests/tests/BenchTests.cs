using Keel.Ringlib.Protocols;
using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// Micro-benchmarks in TSC cycles, each printed as "bench: NAME CYCLES cycles per op (N ops)", with
    /// the baseline each is compared against measured in the same boot: a plain call, the null hypercall,
    /// mmu_update in batches of 1 and 512 entries, update_va_mapping, a trap bounce (int3 to the handler and
    /// iret back), and yield alone and with a partner domain yielding too (a domain switch each time).
    /// Grant costs too: map plus unmap of one page and a 4 KiB grant copy (against a 4 KiB memcpy in the domain),
    /// on a grant the domain gives itself (the kernel's path is the same as for another domain's grant); a
    /// store read round trip (against the null hypercall); and an event-channel ping-pong with the partner
    /// (against the yield ping-pong, a domain switch each way as well), over a port found through the store.
    ///   bench=T:ID       measures (ID is its own domain id), and at T ms of system time starts the yield ping-pong
    ///   bench-partner=T  sleeps until T, then yields as often as the bench domain does
    /// </summary>
    internal static unsafe class BenchTests
    {
        private const int Calls = 20000, Batches = 200, Yields = 5000;

        internal static void Run(string at)
        {
            SharedInfo.Map();
            GuestTraps.Handler = OnTrap;
            byte* vectors = stackalloc byte[] { 3 };
            GuestTraps.Install(new System.ReadOnlySpan<byte>(vectors, 1), 0);
            ulong[] numbers = new ulong[2];
            if (Arguments.Numbers(at, numbers) != 2) { DomainConsole.WriteLine("bench: usage bench=T:ID"); return; }
            ulong start = numbers[0] * 1_000_000;
            // Measured alone: the control domain has built every other domain by half-time.
            Clock.SleepUntil(start / 2);

            ulong t = Clock.Cycles();
            for (int i = 0; i < Calls; i++) Probes.Nothing();
            Report("call.plain", Clock.Cycles() - t, Calls);
            t = Clock.Cycles();
            for (int i = 0; i < Calls; i++) Hypercall.XenVersion(VersionCommand.Version, null);
            Report("hypercall.null", Clock.Cycles() - t, Calls);
            t = Clock.Cycles();
            for (int i = 0; i < Calls; i++) Probes.Int3();
            Report("trap.bounce", Clock.Cycles() - t, Calls);
            MmuBenchmarks();
            GrantBenchmarks((ushort)numbers[1]);
            uint port = PublishPort();
            StoreBenchmark();

            t = Clock.Cycles();
            for (int i = 0; i < Yields; i++) Hypercall.Yield();
            Report("yield.alone", Clock.Cycles() - t, Yields);
            Clock.SleepUntil(start);
            t = Clock.Cycles();
            for (int i = 0; i < Yields; i++) Hypercall.Yield();
            Report("yield.switching", Clock.Cycles() - t, Yields);
            if (port == 0) return;
            // The partner binds the port once its yields are done and answers each event with one.
            ulong giveUp = Clock.Now + 10_000_000_000;
            while (!Events.TakePending(port))
            {
                if (Clock.Now > giveUp) { DomainConsole.WriteLine("bench: the partner never bound its port"); return; }
                Events.Poll(&port, 1, Clock.Now + 1_000_000_000);
            }
            t = Clock.Cycles();
            for (int i = 0; i < Yields; i++)
            {
                Events.Send(port);
                while (!Events.TakePending(port)) Events.Poll(&port, 1, Clock.Now + 1_000_000_000);
            }
            Report("evtchn.ping_pong", Clock.Cycles() - t, Yields);
        }

        /// <summary>An unbound port for the partner (domain 2, the next in the manifest), published in the store for it to read.</summary>
        private static uint PublishPort()
        {
            StoreClient.Connect();
            long port = Events.AllocUnbound(PartnerDomain);
            StoreError e = port > 0 ? StoreClient.Mkdir("data/bench") : StoreError.EINVAL;
            if (e == StoreError.None) e = StoreClient.SetPermissions("data/bench", "n" + StoreClient.Read("domid", out _) + "\0r" + DomainConsole.Decimal(PartnerDomain));
            if (e == StoreError.None) e = StoreClient.Write("data/bench/port", DomainConsole.Decimal(port));
            if (e == StoreError.None) return (uint)port;
            DomainConsole.WriteLine("bench: no port for the partner: " + DomainConsole.Decimal(port) + ", store " + DomainConsole.Decimal((long)e));
            return 0;
        }

        private const ushort PartnerDomain = 2;

        private static void StoreBenchmark()
        {
            const int Reads = 500;
            ulong t = Clock.Cycles();
            for (int i = 0; i < Reads; i++) StoreClient.Read("domid", out _);
            Report("store.read", Clock.Cycles() - t, Reads);
        }

        internal static void Partner(string at)
        {
            SharedInfo.Map();
            Clock.SleepUntil(Arguments.Number(at) * 1_000_000);
            for (int i = 0; i < Yields; i++) Hypercall.Yield();
            StoreClient.Connect();
            string value = StoreClient.Read("/local/domain/1/data/bench/port", out StoreError error);
            long port = value == null ? -1 : Events.BindInterdomain(1, (uint)Arguments.Number(value));
            if (port <= 0) { DomainConsole.WriteLine("bench: the partner cannot bind: store " + DomainConsole.Decimal((long)error) + ", port " + DomainConsole.Decimal(port)); return; }
            uint local = (uint)port;
            Events.TakePending(local);
            Events.Send(local);
            for (int i = 0; i < Yields; i++)
            {
                while (!Events.TakePending(local)) Events.Poll(&local, 1, Clock.Now + 1_000_000_000);
                Events.Send(local);
            }
        }

        /// <summary>The page-table updates toggle the writable bit of one spare page's entry: each a full validation.</summary>
        private static void MmuBenchmarks()
        {
            ulong spare = Memory.InitialMappingEnd - 3 * Memory.PageSize;
            ulong pte = Memory.L1EntryMachineAddress(spare);
            ulong frame = Memory.MachineFrame((spare - DomainEntry.ImageBase) / Memory.PageSize);
            ulong readOnly = (frame << 12) | 0x21, writable = (frame << 12) | 0x63;
            MmuUpdateRequest* batch = stackalloc MmuUpdateRequest[512];
            for (int i = 0; i < 512; i++) batch[i] = new MmuUpdateRequest { Ptr = pte, Val = (i & 1) == 0 ? readOnly : writable };
            uint done;
            ulong t = Clock.Cycles();
            for (int i = 0; i < Calls; i++) Hypercall.Raw((ulong)HypercallNumber.MmuUpdate, (ulong)(batch + (i & 1)), 1, (ulong)&done, DomainIds.Self);
            Report("mmu_update.batch1", Clock.Cycles() - t, Calls);
            t = Clock.Cycles();
            for (int i = 0; i < Batches; i++) Hypercall.Raw((ulong)HypercallNumber.MmuUpdate, (ulong)batch, 512, (ulong)&done, DomainIds.Self);
            Report("mmu_update.batch512", Clock.Cycles() - t, Batches * 512);
            t = Clock.Cycles();
            for (int i = 0; i < Calls; i++) Memory.UpdateVaMapping(spare, (i & 1) == 0 ? readOnly : writable, UpdateVaFlags.Invlpg);
            Report("update_va_mapping", Clock.Cycles() - t, Calls);
        }

        private static void GrantBenchmarks(ushort self)
        {
            const int Grants4k = 2000;
            long rc = Grants.Initialise();
            ulong source = Pages.TakePage(out ulong sourceFrame), destination = Pages.TakePage(out ulong destinationFrame);
            ulong window = Pages.TakeWindow(1);
            int reference = Grants.Grant(self, sourceFrame, readOnly: false);
            if (rc != 0 || source == 0 || destination == 0 || window == 0 || reference < 0)
            {
                DomainConsole.WriteLine("bench: no grant table or pages: " + DomainConsole.Decimal(rc));
                return;
            }
            ulong t = Clock.Cycles();
            for (int i = 0; i < Grants4k; i++)
            {
                Grants.Map(self, (uint)reference, window, readOnly: false, out uint handle);
                Grants.Unmap(window, handle);
            }
            Report("grant.map_unmap", Clock.Cycles() - t, Grants4k);
            var copy = new GrantCopyRequest
            {
                Source = new GrantCopyPointer { Ref = (uint)reference, Domain = self },
                Destination = new GrantCopyPointer { Frame = destinationFrame, Domain = DomainIds.Self },
                Length = 4096,
                Flags = GrantCopyRequest.SourceIsRef,
            };
            t = Clock.Cycles();
            for (int i = 0; i < Grants4k; i++) Grants.Copy(ref copy);
            Report("grant.copy4k", Clock.Cycles() - t, Grants4k);
            var from = new System.Span<byte>((void*)source, 4096);
            var to = new System.Span<byte>((void*)destination, 4096);
            t = Clock.Cycles();
            for (int i = 0; i < Grants4k; i++) from.CopyTo(to);
            Report("memcpy4k", Clock.Cycles() - t, Grants4k);
            if (copy.Status != GrantStatus.Okay) DomainConsole.WriteLine("bench: the grant copy failed: " + DomainConsole.Decimal(copy.Status));
        }

        private static void Report(string name, ulong cycles, long ops)
        {
            DomainConsole.WriteLine("bench: " + name + " " + DomainConsole.Decimal((long)(cycles / (ulong)ops)) + " cycles per op (" + DomainConsole.Decimal(ops) + " ops)");
        }

        private static void OnTrap(TrapFrame* frame)
        {
            if (!Probes.ReturnFromProbe(frame)) Hypercall.Shutdown(ShutdownReason.Crash);
        }
    }
}

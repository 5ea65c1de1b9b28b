using System.Threading;
using Keel.Ringlib;
using Keel.Ringlib.Protocols;
using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// hostile-disk: a front-end that speaks blkif to blkback by hand, without blkfront, and breaks every
    /// rule it can (HOSTILE-INPUTS.md classes 1, 6, 7, 8, 9) while honest guests use the same back-end. It has
    /// xvda read-write and xvdb read-only. Each case prints "hostile-disk: CASE: STATUS" (BLKIF_RSP_*:
    /// 0 okay, -1 error, -2 not supported; "none" if no answer came); the last cases flood its port and then
    /// publish a producer index past the ring, for which blkback must cut it off.
    /// </summary>
    internal static unsafe class HostileDisk
    {
        private const ulong AnswerTimeoutNs = 5_000_000_000;

        private static string s_front;
        private static ushort s_backend;
        private static string s_backendPath;
        private static FrontRing<BlkifRequest, BlkifResponse> s_ring;
        private static ulong s_ringVa;
        private static uint s_port;
        private static ulong s_dataFrame;
        private static ulong s_nextId = 1;

        internal static void Run()
        {
            SharedInfo.Map();
            Grants.Initialise();
            StoreClient.Connect();
            ulong dataVa = Pages.TakePage(out s_dataFrame);
            if (dataVa == 0 || !Connect(0))
            {
                DomainConsole.WriteLine("hostile-disk: xvda never connected");
                return;
            }
            StoreClient.ReadNumber(s_backendPath + "/sectors", out ulong sectors, out _);
            DomainConsole.WriteLine("hostile-disk: xvda connected, " + DomainConsole.Decimal((long)sectors) + " sectors");
            int good = Grants.Grant(s_backend, s_dataFrame, readOnly: false);
            int readOnlyGrant = Grants.Grant(s_backend, s_dataFrame, readOnly: true);
            int elsewhere = Grants.Grant(0, s_dataFrame, readOnly: false);

            Report("a well-formed read", Request(BlkifOperation.Read, 0, 1, (uint)good, 0, 7));
            Report("no segments", Request(BlkifOperation.Read, 0, 0, (uint)good, 0, 7));
            Report("12 segments", Request(BlkifOperation.Read, 0, 12, (uint)good, 0, 7));
            Report("first_sect after last_sect", Request(BlkifOperation.Read, 0, 1, (uint)good, 5, 2));
            Report("last_sect 8", Request(BlkifOperation.Read, 0, 1, (uint)good, 0, 8));
            Report("the sector past the end", Request(BlkifOperation.Write, sectors, 1, (uint)good, 0, 0));
            Report("a range running past the end", Request(BlkifOperation.Write, sectors - 4, 1, (uint)good, 0, 7));
            Report("a sector near 2^64", Request(BlkifOperation.Write, ulong.MaxValue - 3, 1, (uint)good, 0, 7));
            Report("operation 4", Request((BlkifOperation)4, 0, 1, (uint)good, 0, 7));
            Report("operation 200", Request((BlkifOperation)200, 0, 1, (uint)good, 0, 7));
            Report("a discard it was not offered", Request(BlkifOperation.Discard, 0, 0, 0, 0, 0));
            Report("a grant never given", Request(BlkifOperation.Read, 0, 1, 4000, 0, 7));
            Report("a grant given to another domain", Request(BlkifOperation.Read, 0, 1, (uint)elsewhere, 0, 7));
            Report("a read into a read-only grant", Request(BlkifOperation.Read, 0, 1, (uint)readOnlyGrant, 0, 7));
            Report("a write from a read-only grant", Request(BlkifOperation.Write, 8, 1, (uint)readOnlyGrant, 0, 7));
            DuplicateIds((uint)good);
            FullRing((uint)good);
            Reconnections((uint)good);
            RingOrders((uint)good);
            ReadOnlyDisk();
            Flood();
            Overrun();
            DomainConsole.WriteLine("hostile-disk: done");
        }

        /// <summary>The XenBus walk for xvd&lt;a + index&gt;: wait for InitWait, publish a fresh ring and port, go Initialised, wait for Connected.</summary>
        private static bool Connect(int index)
        {
            s_front = "device/vbd/" + DomainConsole.Decimal((202 << 8) | (index << 4));
            s_backendPath = StoreClient.Read(s_front + "/backend", out StoreError error);
            if (error != StoreError.None) return false;
            StoreClient.ReadNumber(s_front + "/backend-id", out ulong backendId, out _);
            s_backend = (ushort)backendId;
            if (!WaitForBackend(XenbusState.InitWait)) return false;
            s_ringVa = Pages.TakePage(out ulong ringFrame);
            if (s_ringVa == 0 || !FrontRing<BlkifRequest, BlkifResponse>.TryInitialize((void*)s_ringVa, (uint)Memory.PageSize, out s_ring)) return false;
            int reference = Grants.Grant(s_backend, ringFrame, readOnly: false);
            long port = Events.AllocUnbound(s_backend);
            if (reference < 0 || port <= 0) return false;
            s_port = (uint)port;
            StoreClient.Write(s_front + "/ring-ref", DomainConsole.Decimal(reference));
            StoreClient.Write(s_front + "/event-channel", DomainConsole.Decimal(port));
            StoreClient.Write(s_front + "/state", "3");
            return WaitForBackend(XenbusState.Connected);
        }

        private static bool WaitForBackend(XenbusState wanted)
        {
            ulong deadline = Clock.Now + AnswerTimeoutNs * 6;
            // Polled every 5 ms: the path is made once and the state read as a number, not a string each time.
            string statePath = s_backendPath + "/state";
            while (Clock.Now < deadline)
            {
                if (StoreClient.ReadNumber(statePath, out ulong state, out _) && state == (ulong)wanted) return true;
                Clock.SleepUntil(Clock.Now + 5_000_000);
            }
            return false;
        }

        /// <summary>One request with one segment (or none), then its answer's status; "none" as long.MinValue.</summary>
        private static long Request(BlkifOperation operation, ulong sector, int segments, uint grant, byte first, byte last)
        {
            BlkifRequest request = default;
            request.Operation = (byte)operation;
            request.SegmentCount = (byte)segments;
            request.Id = s_nextId++;
            request.SectorNumber = sector;
            request.SetSegment(0, new BlkifSegment(grant, first, last));
            for (int s = 1; s < segments && s < Blkif.MaxSegmentsPerRequest; s++) request.SetSegment(s, new BlkifSegment(grant, first, last));
            s_ring.TryWriteRequest(request);
            if (s_ring.PushRequestsAndCheckNotify()) Events.Send(s_port);
            return Answer(request.Id);
        }

        private static long Answer(ulong id)
        {
            ulong deadline = Clock.Now + AnswerTimeoutNs;
            while (Clock.Now < deadline)
            {
                while (s_ring.TryTakeResponse(out BlkifResponse response))
                {
                    if (response.Id == id) return response.Status;
                }
                Clock.SleepUntil(Clock.Now + 1_000_000);
            }
            return long.MinValue;
        }

        /// <summary>Two requests with the same id in flight at once: the second is refused, the first answered.</summary>
        private static void DuplicateIds(uint grant)
        {
            BlkifRequest request = default;
            request.Operation = (byte)BlkifOperation.Read;
            request.SegmentCount = 1;
            request.Id = 77777;
            request.SetSegment(0, new BlkifSegment(grant, 0, 7));
            s_ring.TryWriteRequest(request);
            s_ring.TryWriteRequest(request);
            if (s_ring.PushRequestsAndCheckNotify()) Events.Send(s_port);
            long first = Answer(77777), second = Answer(77777);
            DomainConsole.WriteLine("hostile-disk: the same id twice: " + Status(first) + " and " + Status(second));
        }

        /// <summary>
        /// Not an attack: a whole ring of 11-page reads put on at once, one notification for all. blkback takes
        /// them in one pass, more pages than one map hypercall takes: every one is served.
        /// </summary>
        private static void FullRing(uint grant)
        {
            ulong firstId = s_nextId;
            int put = 0;
            while (s_ring.FreeRequests > 0)
            {
                BlkifRequest request = default;
                request.Operation = (byte)BlkifOperation.Read;
                request.SegmentCount = Blkif.MaxSegmentsPerRequest;
                request.Id = s_nextId++;
                for (int s = 0; s < Blkif.MaxSegmentsPerRequest; s++) request.SetSegment(s, new BlkifSegment(grant, 0, 7));
                if (!s_ring.TryWriteRequest(request)) break;
                put++;
            }
            if (s_ring.PushRequestsAndCheckNotify()) Events.Send(s_port);
            int answered = 0, served = 0;
            ulong deadline = Clock.Now + AnswerTimeoutNs;
            while (answered < put && Clock.Now < deadline)
            {
                while (s_ring.TryTakeResponse(out BlkifResponse response))
                {
                    if (response.Id < firstId || response.Id >= firstId + (ulong)put) continue;
                    answered++;
                    if (response.Status == 0) served++;
                }
                Clock.SleepUntil(Clock.Now + 1_000_000);
            }
            DomainConsole.WriteLine("hostile-disk: a full ring of " + DomainConsole.Decimal(put) + " 11-page reads at once: " + DomainConsole.Decimal(served) + " served");
        }

        /// <summary>Connected, back to Initialising, and a new ring and port, again and again: each time served.</summary>
        private static void Reconnections(uint grant)
        {
            int served = 0;
            for (int round = 0; round < 20; round++)
            {
                StoreClient.Write(s_front + "/state", "5");
                if (!WaitForBackend(XenbusState.Closing)) break;
                StoreClient.Write(s_front + "/state", "6");
                if (!WaitForBackend(XenbusState.Closed)) break;
                StoreClient.Write(s_front + "/state", "1");
                Events.Close(s_port);
                if (!Connect(0)) break;
                if (Request(BlkifOperation.Read, 0, 1, grant, 0, 7) == 0) served++;
            }
            DomainConsole.WriteLine("hostile-disk: 20 reconnections, each with a new ring: " + DomainConsole.Decimal(served) + " served");
        }

        /// <summary>
        /// Multi-page rings named wrongly, each refused by the back-end going to Closing: a ring-page-order past
        /// the max-ring-page-order it offers, a two-page ring without ring-ref1, and one whose ring-ref1 was never
        /// granted. Then a well-formed two-page ring, which is served, and back to the one-page ring the later
        /// cases use.
        /// </summary>
        private static void RingOrders(uint grant)
        {
            Report("ring-page-order 4", MultiPageRing(4, 1, badSecond: false) ? 0 : -1);
            Report("ring-page-order 1 without ring-ref1", MultiPageRing(1, 1, badSecond: false) ? 0 : -1);
            Report("ring-page-order 1 with ring-ref1 never granted", MultiPageRing(1, 2, badSecond: true) ? 0 : -1);
            bool connected = MultiPageRing(1, 2, badSecond: false);
            Report("a two-page ring", connected ? Request(BlkifOperation.Read, 0, 1, grant, 0, 7) : long.MinValue);
            StartOver();
            StoreClient.Remove(s_front + "/ring-page-order");
            Report("back to one page", Connect(0) ? Request(BlkifOperation.Read, 0, 1, grant, 0, 7) : long.MinValue);
        }

        /// <summary>From any state back to InitWait: Closing, Closed, then Initialising, as a front-end starts over.</summary>
        private static void StartOver()
        {
            StoreClient.Write(s_front + "/state", "5");
            WaitForBackend(XenbusState.Closing);
            StoreClient.Write(s_front + "/state", "6");
            WaitForBackend(XenbusState.Closed);
            StoreClient.Write(s_front + "/state", "1");
            Events.Close(s_port);
        }

        /// <summary>Starts over and offers a ring of 2^order pages with the first <paramref name="written"/>
        /// ring-refN nodes (the second a reference never granted if <paramref name="badSecond"/>): whether the
        /// back-end connected (it goes to Closing when it refuses).</summary>
        private static bool MultiPageRing(int order, int written, bool badSecond)
        {
            StartOver();
            for (int i = 0; i < 8; i++) StoreClient.Remove(s_front + "/ring-ref" + DomainConsole.Decimal(i));
            if (!WaitForBackend(XenbusState.InitWait)) return false;
            int pages = 1 << (order < 3 ? order : 3);
            s_ringVa = 0;
            for (int i = 0; i < pages; i++)
            {
                ulong va = Pages.TakePage(out ulong frame);
                if (i == 0) s_ringVa = va;
                int reference = Grants.Grant(s_backend, frame, readOnly: false);
                if (i < written) StoreClient.Write(s_front + "/ring-ref" + DomainConsole.Decimal(i), DomainConsole.Decimal(i == 1 && badSecond ? 4000 : reference));
            }
            if (s_ringVa == 0 || !FrontRing<BlkifRequest, BlkifResponse>.TryInitialize((void*)s_ringVa, (uint)Memory.PageSize * (uint)pages, out s_ring)) return false;
            long port = Events.AllocUnbound(s_backend);
            if (port <= 0) return false;
            s_port = (uint)port;
            StoreClient.Write(s_front + "/ring-page-order", DomainConsole.Decimal(order));
            StoreClient.Write(s_front + "/event-channel", DomainConsole.Decimal(port));
            StoreClient.Write(s_front + "/state", "3");
            ulong deadline = Clock.Now + AnswerTimeoutNs * 6;
            string statePath = s_backendPath + "/state";
            while (Clock.Now < deadline)
            {
                if (StoreClient.ReadNumber(statePath, out ulong state, out _))
                {
                    if (state == (ulong)XenbusState.Connected) return true;
                    if (state == (ulong)XenbusState.Closing) return false;
                }
                Clock.SleepUntil(Clock.Now + 5_000_000);
            }
            return false;
        }

        /// <summary>xvdb, read-only: a read is served, a well-formed write is refused with BLKIF_RSP_ERROR.</summary>
        private static void ReadOnlyDisk()
        {
            string front = s_front;
            string backendPath = s_backendPath;
            FrontRing<BlkifRequest, BlkifResponse> ring = s_ring;
            ulong ringVa = s_ringVa;
            uint port = s_port;
            if (!Connect(1))
            {
                DomainConsole.WriteLine("hostile-disk: xvdb never connected");
                return;
            }
            int grant = Grants.Grant(s_backend, s_dataFrame, readOnly: false);
            Report("a read of the read-only disk", Request(BlkifOperation.Read, 0, 1, (uint)grant, 0, 7));
            Report("a write to the read-only disk", Request(BlkifOperation.Write, 0, 1, (uint)grant, 0, 7));
            s_front = front;
            s_backendPath = backendPath;
            s_ring = ring;
            s_ringVa = ringVa;
            s_port = port;
        }

        private static void Flood()
        {
            for (int i = 0; i < 100_000; i++) Events.Send(s_port);
            DomainConsole.WriteLine("hostile-disk: 100000 events sent to blkback");
            Report("a read after the flood", Request(BlkifOperation.Read, 0, 1, (uint)Grants.Grant(s_backend, s_dataFrame, readOnly: false), 0, 7));
        }

        /// <summary>req_prod set 64 past what blkback answered, on a 32-slot ring: io/ring.h's overflow, which a back-end must refuse.</summary>
        private static void Overrun()
        {
            uint* header = (uint*)s_ringVa;
            // The shared ring's req_prod is its first word (io/ring.h struct __name##_sring).
            Volatile.Write(ref header[0], Volatile.Read(ref header[2]) + 64);
            Events.Send(s_port);
            bool cut = WaitForBackend(XenbusState.Closing);
            DomainConsole.WriteLine("hostile-disk: a producer index 64 past the ring: " + (cut ? "blkback closed the device" : "no reaction"));
        }

        private static void Report(string what, long status) => DomainConsole.WriteLine("hostile-disk: " + what + ": " + Status(status));

        private static string Status(long status) => status == long.MinValue ? "none" : DomainConsole.Decimal(status);
    }
}

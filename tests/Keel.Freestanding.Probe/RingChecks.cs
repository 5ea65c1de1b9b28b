using System;
using Keel.Ringlib;
using Keel.Ringlib.Protocols;

namespace Keel.Freestanding.Probe
{
    /// <summary>ringlib as the domains will run it: compiled by ILC against the core library, over raw pages.</summary>
    internal static unsafe class RingChecks
    {
        private const int RoundTrips = 10000;

        internal static void Run()
        {
            // No collector moves objects, so the array's address is stable; align a page inside it.
            byte[] backing = new byte[3 * 4096];
            fixed (byte* raw = backing)
            {
                byte* page = (byte*)(((ulong)raw + 4095) & ~4095UL);
                BlkifRoundTrip(page);
                HostileProducer(page);
                StoreBytes((StoreRingPage*)(page + 4096));
            }
            RequestParser();
        }

        private static void BlkifRoundTrip(byte* page)
        {
            bool attached = FrontRing<BlkifRequest, BlkifResponse>.TryInitialize(page, 4096, out var front) &
                            BackRing<BlkifRequest, BlkifResponse>.TryAttach(page, 4096, out var back);
            int capacity = 0;
            var probe = new BlkifRequest { Operation = (byte)BlkifOperation.Read, SegmentCount = 1 };
            while (capacity < 1000 && front.TryWriteRequest(probe)) capacity++;
            Program.Check("a one-page blkif ring holds 32 requests", attached && capacity == Blkif.RequestsPerPageRing);

            // Drain the probe requests, then stream ids through the ring in batches and check every response.
            front.PushRequests();
            while (back.TryTakeRequest(out _)) back.TryWriteResponse(new BlkifResponse());
            back.PushResponses();
            while (front.TryTakeResponse(out _)) { }

            ulong nextId = 0, expectedId = 0;
            int notifications = 0;
            bool inOrder = true;
            while (expectedId < RoundTrips)
            {
                while (nextId < RoundTrips && front.TryWriteRequest(new BlkifRequest { Operation = (byte)BlkifOperation.Write, SegmentCount = 1, Id = nextId })) nextId++;
                if (front.PushRequestsAndCheckNotify()) notifications++;
                while (back.TryTakeRequest(out BlkifRequest request))
                {
                    back.TryWriteResponse(new BlkifResponse { Id = request.Id, Operation = request.Operation, Status = (short)BlkifStatus.Okay });
                }
                if (back.PushResponsesAndCheckNotify()) notifications++;
                while (front.TryTakeResponse(out BlkifResponse response))
                {
                    inOrder &= response.Id == expectedId && response.Status == (short)BlkifStatus.Okay;
                    expectedId++;
                }
                back.FinalCheckForRequests();
                front.FinalCheckForResponses();
            }
            Program.Check("10000 requests round-trip in order through a one-page blkif ring", inOrder && expectedId == RoundTrips);
            Program.Check("the back-end sees no overflow from an honest front-end", back.Status == RingStatus.Ok && front.Status == RingStatus.Ok);
            Program.Check("notifications are sent at most once per push", notifications <= 2 * (RoundTrips / Blkif.RequestsPerPageRing + 2));
        }

        private static void HostileProducer(byte* page)
        {
            FrontRing<BlkifRequest, BlkifResponse>.TryInitialize(page, 4096, out _);
            BackRing<BlkifRequest, BlkifResponse>.TryAttach(page, 4096, out var back);
            // A front-end claims 1000 requests in a 32-slot ring (HOSTILE-INPUTS.md class 1).
            ((SharedRingHeader*)page)->RequestProducer = 1000;
            int taken = 0;
            while (taken < 100 && back.TryTakeRequest(out _)) taken++;
            Program.Check("a producer index beyond the ring is reported as overflow and nothing is consumed", back.Status == RingStatus.ProducerOverflow && taken == 0);
        }

        private static void StoreBytes(StoreRingPage* page)
        {
            StoreByteRing requests = StoreByteRing.Requests(page);
            ReadOnlySpan<byte> message = "read /local/domain/0/name"u8;
            var written = requests.Write(message, out int count);
            Span<byte> received = stackalloc byte[64];
            var read = requests.Read(received, out int got);
            Program.Check("the store's byte ring carries a message intact",
                written == StoreRingStatus.Ok && read == StoreRingStatus.Ok && count == message.Length && got == message.Length &&
                received.Slice(0, got).SequenceEqual(message));
        }

        private static void RequestParser()
        {
            var device = new BlkifDeviceLimits { CapacitySectors = 2048 };
            var request = new BlkifRequest { Operation = (byte)BlkifOperation.Read, SegmentCount = 1, SectorNumber = 8 };
            request.SetSegment(0, new BlkifSegment(5, 0, 7));
            bool valid = BlkifRequestParser.Parse(request, device, out _) == BlkifRequestError.None;
            request.SectorNumber = 2044;
            bool pastEnd = BlkifRequestParser.Parse(request, device, out _) == BlkifRequestError.BeyondEndOfDevice;
            device.ReadOnly = true;
            request.Operation = (byte)BlkifOperation.Write;
            request.SectorNumber = 0;
            bool readOnly = BlkifRequestParser.Parse(request, device, out _) == BlkifRequestError.WriteToReadOnlyDevice;
            Program.Check("blkif requests are validated before use", valid && pastEnd && readOnly);
        }
    }
}

using System.Runtime.InteropServices;
using Keel.Ringlib;
using Keel.Ringlib.Protocols;
using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>A ping: its sequence number, a checksum of its payload, and 56 bytes of payload derived from the sequence number.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 64)]
    internal unsafe struct Ping
    {
        internal uint Sequence;
        internal uint Checksum;
        internal fixed byte Payload[56];
    }

    /// <summary>A pong: the sequence number it answers and the checksum the answering side computed over what it received.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 8)]
    internal struct Pong
    {
        internal uint Sequence;
        internal uint Checksum;
    }

    /// <summary>
    /// Two domains talking as a split driver does: the front ("ping=PEER:COUNT", or "ping=PEER:COUNT:N" to
    /// crash after N answers, its page still mapped) puts a ring (ringlib's Xen
    /// io/ring.h layout) in one of its pages, grants the page to its peer, allocates an unbound port for it,
    /// and publishes both in the store under its own data/pingpong (readable by the peer), then state=ready;
    /// the back ("pong=PEER") watches for that, maps the grant, binds the port, and answers every ping. Up to
    /// a window of pings is in flight; each side notifies only when the ring says the other is waiting
    /// (PushRequestsAndCheckNotify, PushResponsesAndCheckNotify), so the report gives notifications per
    /// message. Every ping is checksummed by both sides; a mismatch, a pong out of order or a lying ring
    /// is counted and reported. Domain ids come from the manifest's order (the control domain is 0).
    /// </summary>
    internal static unsafe class PingPong
    {
        private const int Window = 16;
        private const ulong Patience = 5_000_000_000;

        internal static void Front(string argument)
        {
            ulong[] numbers = new ulong[3];
            int given = Arguments.Numbers(argument, numbers);
            if (given < 2) { DomainConsole.WriteLine("ping: usage ping=PEER:COUNT[:CRASH_AT]"); return; }
            ushort peer = (ushort)numbers[0];
            uint count = (uint)numbers[1];
            uint crashAt = given == 3 ? (uint)numbers[2] : uint.MaxValue;
            if (!Setup()) return;
            ulong page = Pages.TakePage(out ulong frame);
            if (page == 0 || !FrontRing<Ping, Pong>.TryInitialize((void*)page, 4096, out var ring)) { DomainConsole.WriteLine("ping: no page for the ring"); return; }
            int reference = Grants.Grant(peer, frame, readOnly: false);
            long port = Events.AllocUnbound(peer);
            if (reference < 0 || port <= 0) { DomainConsole.WriteLine("ping: no grant or port: " + DomainConsole.Decimal(reference) + " " + DomainConsole.Decimal(port)); return; }
            if (!Publish(peer, reference, (uint)port)) return;
            DomainConsole.WriteLine("ping: ring of " + DomainConsole.Decimal(ring.Size) + " slots granted to domain " + DomainConsole.Decimal(peer) + " as reference " + DomainConsole.Decimal(reference) + ", port " + DomainConsole.Decimal(port));

            uint sent = 0, answered = 0, bad = 0;
            ulong notifications = 0, waits = 0, started = Clock.Now;
            uint p = (uint)port;
            while (answered < count)
            {
                while (sent < count && sent - answered < Window)
                {
                    Ping ping = Make(sent++);
                    ring.TryWriteRequest(ping);
                }
                if (ring.PushRequestsAndCheckNotify()) { Events.Send(p); notifications++; }
                bool took = false;
                while (ring.TryTakeResponse(out Pong pong))
                {
                    took = true;
                    if (pong.Sequence != answered || pong.Checksum != Make(answered).Checksum) bad++;
                    answered++;
                }
                if (answered >= crashAt)
                {
                    // A granter dying with its page still mapped by the peer: the frame must outlive it.
                    DomainConsole.WriteLine("ping: crashing on purpose after " + DomainConsole.Decimal(answered) + " answers, the ring still mapped by the peer");
                    Probes.Ud2();
                }
                if (ring.Status != RingStatus.Ok) { DomainConsole.WriteLine("ping: the back-end broke the ring"); break; }
                if (took || sent - answered < Window && sent < count) continue;
                if (ring.FinalCheckForResponses()) continue;
                waits++;
                if (!Wait(p)) { DomainConsole.WriteLine("ping: no answer for 5 s after " + DomainConsole.Decimal(answered)); break; }
            }
            ulong elapsed = Clock.Now - started;
            EndTalk(ref ring, p);
            DomainConsole.WriteLine("ping: " + DomainConsole.Decimal(answered) + " of " + DomainConsole.Decimal(sent) + " answered, " + DomainConsole.Decimal(bad) + " bad, in "
                + DomainConsole.Decimal((long)(elapsed / 1_000_000)) + " ms; " + DomainConsole.Decimal((long)notifications) + " notifications sent ("
                + Ratio(notifications, answered) + " a message), " + DomainConsole.Decimal((long)waits) + " waits");
            // The peer unmaps before it ends; only then may the page go back to anyone (GTF_reading clears).
            ulong deadline = Clock.Now + Patience;
            while (!Grants.EndAccess(reference) && Clock.Now < deadline) Clock.SleepUntil(Clock.Now + 1_000_000);
            DomainConsole.WriteLine("ping: the grant was " + (Grants.InUse(reference) ? "still in use" : "taken back") + " after the peer finished");
        }

        private const uint Last = uint.MaxValue;

        /// <summary>The last ping (sequence 0xFFFFFFFF) tells the back it may unmap; its pong says it has.</summary>
        private static void EndTalk(ref FrontRing<Ping, Pong> ring, uint port)
        {
            ring.TryWriteRequest(new Ping { Sequence = Last });
            if (ring.PushRequestsAndCheckNotify()) Events.Send(port);
            ulong until = Clock.Now + Patience;
            while (Clock.Now < until)
            {
                if (ring.TryTakeResponse(out Pong pong) && pong.Sequence == Last) return;
                if (!ring.FinalCheckForResponses()) Wait(port);
            }
        }

        internal static void Back(string argument)
        {
            ushort peer = (ushort)Arguments.Number(argument);
            if (!Setup()) return;
            string dir = "/local/domain/" + DomainConsole.Decimal(peer) + "/data/pingpong";
            StoreClient.Watch(dir + "/state", "ping");
            while (StoreClient.Read(dir + "/state", out _) != "ready") StoreClient.WaitForWatchEvent();
            uint reference = (uint)ReadNumber(dir + "/ring-ref");
            uint remotePort = (uint)ReadNumber(dir + "/event-channel");
            ulong window = Pages.TakeWindow(1);
            long status = Grants.Map(peer, reference, window, readOnly: false, out uint handle);
            long port = Events.BindInterdomain(peer, remotePort);
            if (status != 0 || port <= 0 || !BackRing<Ping, Pong>.TryAttach((void*)window, 4096, out var ring))
            {
                DomainConsole.WriteLine("pong: cannot connect: map " + DomainConsole.Decimal(status) + ", port " + DomainConsole.Decimal(port));
                return;
            }
            DomainConsole.WriteLine("pong: connected to domain " + DomainConsole.Decimal(peer) + "'s ring");
            // Said in the store for anyone to read (permission "rID": owned by this domain, readable by all).
            StoreClient.Write("data/connected", "1");
            StoreClient.SetPermissions("data/connected", "r" + StoreClient.Read("domid", out _));
            uint p = (uint)port;
            ulong answered = 0, bad = 0, notifications = 0;
            bool last = false;
            while (!last)
            {
                bool took = false;
                while (ring.TryTakeRequest(out Ping ping))
                {
                    took = true;
                    if (ping.Sequence == Last)
                    {
                        ring.TryWriteResponse(new Pong { Sequence = Last });
                        last = true;
                        break;
                    }
                    uint checksum = Checksum(ping.Payload);
                    if (checksum != ping.Checksum) bad++;
                    ring.TryWriteResponse(new Pong { Sequence = ping.Sequence, Checksum = checksum });
                    answered++;
                }
                if (ring.PushResponsesAndCheckNotify()) { Events.Send(p); notifications++; }
                if (ring.Status != RingStatus.Ok) { DomainConsole.WriteLine("pong: the front-end broke the ring"); break; }
                if (last || took || ring.FinalCheckForRequests()) continue;
                if (!Wait(p)) { DomainConsole.WriteLine("pong: no ping for 5 s after " + DomainConsole.Decimal((long)answered)); break; }
            }
            Grants.Unmap(window, handle);
            DomainConsole.WriteLine("pong: " + DomainConsole.Decimal((long)answered) + " answered, " + DomainConsole.Decimal((long)bad) + " bad checksums, "
                + DomainConsole.Decimal((long)notifications) + " notifications sent (" + Ratio(notifications, answered) + " a message)");
        }

        /// <summary>A decimal node's value; 0 if it is missing or not a number.</summary>
        private static ulong ReadNumber(string path)
        {
            string value = StoreClient.Read(path, out _);
            return value == null ? 0 : Arguments.Number(value);
        }

        private static bool Setup()
        {
            SharedInfo.Map();
            long rc = Grants.Initialise();
            if (rc != 0) { DomainConsole.WriteLine("pingpong: no grant table: " + DomainConsole.Decimal(rc)); return false; }
            StoreClient.Connect();
            return true;
        }

        /// <summary>The front's store nodes, readable by the peer: ring-ref and event-channel, then state=ready.</summary>
        private static bool Publish(ushort peer, int reference, uint port)
        {
            string self = StoreClient.Read("domid", out StoreError error);
            StoreError e = error;
            if (e == StoreError.None) e = StoreClient.Mkdir("data/pingpong");
            if (e == StoreError.None) e = StoreClient.SetPermissions("data/pingpong", "n" + self + "\0r" + DomainConsole.Decimal(peer));
            if (e == StoreError.None) e = StoreClient.Write("data/pingpong/ring-ref", DomainConsole.Decimal(reference));
            if (e == StoreError.None) e = StoreClient.Write("data/pingpong/event-channel", DomainConsole.Decimal(port));
            if (e == StoreError.None) e = StoreClient.Write("data/pingpong/state", "ready");
            if (e != StoreError.None) DomainConsole.WriteLine("ping: the store refused: " + DomainConsole.Decimal((long)e));
            return e == StoreError.None;
        }

        /// <summary>SCHEDOP_poll on the port for up to 5 s; clears it. False on the timeout.</summary>
        private static bool Wait(uint port)
        {
            if (Events.TakePending(port)) return true;
            Events.Poll(&port, 1, Clock.Now + Patience);
            return Events.TakePending(port);
        }

        private static Ping Make(uint sequence)
        {
            Ping ping = default;
            ulong state = sequence * 0x9E3779B97F4A7C15UL + 1;
            for (int i = 0; i < 56; i++)
            {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ping.Payload[i] = (byte)state;
            }
            ping.Sequence = sequence;
            ping.Checksum = Checksum(ping.Payload);
            return ping;
        }

        /// <summary>FNV-1a over the 56 payload bytes.</summary>
        private static uint Checksum(byte* payload)
        {
            uint hash = 2166136261;
            for (int i = 0; i < 56; i++) hash = (hash ^ payload[i]) * 16777619;
            return hash;
        }

        private static string Ratio(ulong part, ulong whole)
        {
            if (whole == 0) return "0";
            ulong thousandths = part * 1000 / whole;
            string frac = DomainConsole.Decimal((long)(thousandths % 1000));
            while (frac.Length < 3) frac = "0" + frac;
            return DomainConsole.Decimal((long)(thousandths / 1000)) + "." + frac;
        }
    }
}

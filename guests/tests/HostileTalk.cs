using Keel.Ringlib.Protocols;
using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// "hostile-talk=PING:PONG": attacks the grants, event channels and store of an honest pair while it
    /// ping-pongs (HOSTILE-INPUTS.md classes 6, 8 and 10), one case at a time, each reported as
    /// "hostile-talk: CASE: RESULT". Grant statuses are Xen's GNTST_* values, event-channel results negative
    /// errnos, store results the errno the store answered (0 for success). The malformed store message comes
    /// last: the store stops serving a domain that breaks the protocol.
    /// </summary>
    internal static unsafe class HostileTalk
    {
        private const int QuotaNodes = 2000, StormSize = 100, Flood = 100_000;

        internal static void Run(string argument)
        {
            ulong[] ids = new ulong[2];
            if (Arguments.Numbers(argument, ids) != 2) { DomainConsole.WriteLine("hostile-talk: usage hostile-talk=PING:PONG"); return; }
            ushort ping = (ushort)ids[0], pong = (ushort)ids[1];
            SharedInfo.Map();
            long rc = Grants.Initialise();
            StoreClient.Connect();
            ushort self = (ushort)Arguments.Number(StoreClient.Read("domid", out _) ?? "0");
            if (rc != 0 || self == 0) { DomainConsole.WriteLine("hostile-talk: no grant table or no domid"); return; }
            // The attacks start once the pair talks: pong says so in data/connected, which anyone may read.
            string connected = "/local/domain/" + DomainConsole.Decimal(pong) + "/data/connected";
            while (StoreClient.Read(connected, out _) != "1") Clock.SleepUntil(Clock.Now + 10_000_000);

            // The store's attacks first: each request is a round trip through the control domain.
            Report("store write to the ping domain's data", (long)StoreClient.Write("/local/domain/" + DomainConsole.Decimal(ping) + "/data/x", "1"));
            Report("store write to the pong domain's name", (long)StoreClient.Write("/local/domain/" + DomainConsole.Decimal(pong) + "/name", "owned"));
            Report("store read of the ping domain's ring reference", (long)ReadError("/local/domain/" + DomainConsole.Decimal(ping) + "/data/pingpong/ring-ref"));
            QuotaAttack();
            TransactionStorm();

            ulong window = Pages.TakeWindow(1);
            Report("map a grant never given", Grants.Map(ping, 500, window, false, out _));
            Report("map the ping ring's grant, given to another domain", Grants.Map(ping, 8, window, false, out _));
            Report("map a reference past the table", Grants.Map(ping, 1 << 20, window, false, out _));

            ulong page = Pages.TakePage(out ulong frame);
            int revoked = Grants.Grant(self, frame, readOnly: false);
            Grants.EndAccess(revoked);
            Report("map a revoked grant", Grants.Map(self, (uint)revoked, window, false, out _));
            int readOnly = Grants.Grant(self, frame, readOnly: true);
            Report("map a read-only grant writable", Grants.Map(self, (uint)readOnly, window, false, out _));
            var copy = new GrantCopyRequest
            {
                Source = new GrantCopyPointer { Frame = frame, Domain = DomainIds.Self },
                Destination = new GrantCopyPointer { Ref = (uint)readOnly, Domain = self },
                Length = 8,
                Flags = GrantCopyRequest.DestinationIsRef,
            };
            Report("copy into a read-only grant", Grants.Copy(ref copy));
            copy.Destination = new GrantCopyPointer { Frame = frame, Domain = DomainIds.Self, Offset = 4000 };
            copy.Flags = 0;
            copy.Length = 200;
            Report("copy across a page", Grants.Copy(ref copy));
            copy.Source = new GrantCopyPointer { Frame = frame, Domain = ping };
            Report("copy from another domain's frame", Grants.Copy(ref copy));

            int refused = 0;
            for (uint port = 1; port <= 16; port++) if (Events.BindInterdomain(ping, port) == Errno.EINVAL) refused++;
            Report("bind ports 1-16 of the ping domain (refusals)", refused);
            Report("send on a closed port", Events.Send(4000));
            Exhaust();
            Report("events sent to the control domain on its console port", FloodConsole());

            SendMalformed();
            DomainConsole.WriteLine("test domain: powering off");
        }

        private static void Report(string what, long result) => DomainConsole.WriteLine("hostile-talk: " + what + ": " + DomainConsole.Decimal(result));

        private static StoreError ReadError(string path)
        {
            StoreClient.Read(path, out StoreError error);
            return error;
        }

        /// <summary>Unbound ports offered to the control domain until the kernel says -ENOSPC; then all closed again.</summary>
        private static void Exhaust()
        {
            uint first = 0, count = 0;
            long last;
            while ((last = Events.AllocUnbound(DomainIds.ControlDomain)) > 0)
            {
                if (first == 0) first = (uint)last;
                count++;
            }
            DomainConsole.WriteLine("hostile-talk: ports until exhausted: " + DomainConsole.Decimal(count) + ", then " + DomainConsole.Decimal(last));
            for (uint p = first; p < first + count; p++) Events.Close(p);
        }

        /// <summary>The console port is bound by the control domain, so every send wakes it: a flood aimed at the back-end.</summary>
        private static long FloodConsole()
        {
            uint port = DomainEntry.StartInfo->ConsoleEvtchn;
            long sent = 0;
            for (int i = 0; i < Flood; i++) if (Events.Send(port) == 0) sent++;
            return sent;
        }

        /// <summary>Writes nodes under its own data/ until the store refuses; the count and the refusal.</summary>
        private static void QuotaAttack()
        {
            int written = 0;
            StoreError error = StoreError.None;
            for (int i = 0; i < QuotaNodes && error == StoreError.None; i++)
            {
                error = StoreClient.Write("data/q" + DomainConsole.Decimal(i), "x");
                if (error == StoreError.None) written++;
            }
            DomainConsole.WriteLine("hostile-talk: store nodes written before the quota: " + DomainConsole.Decimal(written) + ", then " + DomainConsole.Decimal((long)error));
        }

        /// <summary>Opens transactions and never ends them, until the store refuses.</summary>
        private static void TransactionStorm()
        {
            int opened = 0;
            StoreError error = StoreError.None;
            for (int i = 0; i < StormSize && error == StoreError.None; i++)
            {
                StoreClient.TransactionStart(out error);
                if (error == StoreError.None) opened++;
            }
            DomainConsole.WriteLine("hostile-talk: transactions opened before the quota: " + DomainConsole.Decimal(opened) + ", then " + DomainConsole.Decimal((long)error));
        }

        /// <summary>A header claiming 5000 bytes of payload (above XENSTORE_PAYLOAD_MAX): no store can follow the stream after it.</summary>
        private static void SendMalformed()
        {
            byte* header = stackalloc byte[StoreMessageHeader.Bytes];
            new StoreMessageHeader { Type = (uint)StoreMessageType.Read, RequestId = 77, Length = 5000 }.TryWrite(new System.Span<byte>(header, StoreMessageHeader.Bytes));
            bool sent = StoreClient.SendRaw(new System.ReadOnlySpan<byte>(header, StoreMessageHeader.Bytes));
            DomainConsole.WriteLine("hostile-talk: malformed store message sent: " + (sent ? "yes" : "no"));
        }
    }
}

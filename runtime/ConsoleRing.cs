using System;
using System.Threading;

namespace Keel.Runtime
{
    /// <summary>
    /// The console ring client, as a PV guest's hvc_xen driver writes it (xen/include/public/io/console.h):
    /// output goes into out[2048] at 1024 of the start_info console page, out_prod at 3084 is ours to move,
    /// out_cons at 3080 the back-end's; then the console port is notified. The back-end (the control domain)
    /// prints each line under this domain's name. Its index is an allegation too: one more than 2048 behind
    /// ours is a lie, and the write is refused.
    /// </summary>
    public static unsafe class ConsoleRing
    {
        private const int OutOffset = 1024, OutBytes = 2048, OutConsumer = 3080, OutProducer = 3084;

        private static byte* s_page;
        private static uint s_port;

        /// <summary>Finds the console page in the initial mapping (through the M2P) and unmasks the console port.</summary>
        public static void Connect()
        {
            if (SharedInfo.Page == null) SharedInfo.Map();
            s_page = (byte*)Memory.VirtualAddress(Memory.PhysicalFrame(DomainEntry.StartInfo->ConsoleMfn));
            s_port = DomainEntry.StartInfo->ConsoleEvtchn;
            Events.Unmask(s_port);
        }

        /// <summary>Writes all of <paramref name="text"/>, waiting for the back-end to drain the ring when it is full;
        /// false if the back-end's index lies.</summary>
        public static bool Write(ReadOnlySpan<byte> text)
        {
            ref uint producerField = ref *(uint*)(s_page + OutProducer);
            uint producer = Volatile.Read(ref producerField);
            int done = 0;
            while (done < text.Length)
            {
                uint consumer = Volatile.Read(ref *(uint*)(s_page + OutConsumer));
                uint used = producer - consumer;
                if (used > OutBytes) return false;
                if (used == OutBytes)
                {
                    // Cleared before sleeping: a port left pending would never be flagged again (see StoreClient).
                    if (!Events.TakePending(s_port)) Events.WaitUntil(Clock.Now + 10_000_000);
                    continue;
                }
                while (done < text.Length && producer - consumer < OutBytes) s_page[OutOffset + (int)(producer++ % OutBytes)] = text[done++];
                // The bytes are in the ring before the index that covers them (a release store).
                Volatile.Write(ref producerField, producer);
                Events.Send(s_port);
            }
            return true;
        }
    }
}

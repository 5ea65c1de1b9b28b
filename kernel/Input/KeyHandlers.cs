using Internal.Runtime;
using Keel.Kernel.Diagnostics;
using Keel.Kernel.Domains;
using Keel.Kernel.Objects;
using Keel.Kernel.Paging;
using Keel.Kernel.Time;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Input
{
    /// <summary>
    /// The kernel's debug keys, typed on the serial console while it has the input: Keel's counterparts of
    /// Xen's keyhandlers (xen/common/keyhandler.c: 'h' lists them, 'q' dumps the domains, 'm' memory, 't'
    /// time). Each key prints a few "keel:" lines and changes nothing.
    /// </summary>
    internal static class KeyHandlers
    {
        internal static void Handle(byte key)
        {
            switch (key)
            {
                case (byte)'h': Help(); break;
                case (byte)'q': Domains(); break;
                case (byte)'m': Memory(); break;
                case (byte)'t': Time(); break;
                case (byte)'i': Input(); break;
                // Enter and line feeds are what a terminal sends between keys out of habit: no answer.
                case (byte)'\r': case (byte)'\n': break;
                default: Unknown(key); break;
            }
        }

        private static void Help()
        {
            Console.WriteLine("keel: keys: 'h' this list, 'q' domains and their state, 'm' memory, 't' time, 'i' serial input");
        }

        /// <summary>One line a domain: id, name, state, the frames it owns and its BVT weight.</summary>
        private static void Domains()
        {
            for (int id = 0; id < DomainTable.Count; id++)
            {
                Domain domain = DomainTable.Find((ulong)id);
                DomainLifecycle.WriteDomain(domain);
                Console.Write(": ");
                WriteState(domain);
                if (domain.IsAlive && domain.Paused) Console.Write(", paused");
                Console.Write(", ");
                Console.Decimal(MachinePaging.Frames.OwnedFrames(domain.Id));
                Console.Write(" pages, weight ");
                Console.Decimal(domain.Weight);
                Console.WriteLine();
            }
            Console.Write("keel: ");
            Console.Decimal((ulong)DomainTable.AliveCount);
            Console.Write(" of ");
            Console.Decimal((ulong)DomainTable.Count);
            Console.WriteLine(" domains alive");
        }

        /// <summary>The domain's state; for a live one, its vCPU's (blocked, running or waiting to run).</summary>
        private static void WriteState(Domain domain)
        {
            switch (domain.State)
            {
                case DomainState.Built: Console.Write("built"); break;
                case DomainState.Running: Console.Write(domain.Vcpu.Blocked ? "blocked" : domain.Vcpu.State == RunState.Running ? "running" : "runnable"); break;
                case DomainState.Shutdown:
                    Console.Write("shut down: ");
                    Console.Write(ShutdownReasons.Name(domain.Reason));
                    break;
                case DomainState.Crashed: Console.Write("crashed"); break;
                default: Console.Write("destroyed"); break;
            }
        }

        private static void Memory()
        {
            Console.Write("keel: memory: ");
            Console.Decimal(DomainLifecycle.Frames.FreeFrames);
            Console.Write(" of ");
            Console.Decimal(DomainLifecycle.Frames.FrameCount);
            Console.Write(" frames free; heap ");
            Console.Decimal(Heap.AllocatedBytes / 1024);
            Console.Write(" KiB of ");
            Console.Decimal(Heap.DonatedBytes / 1024);
            Console.WriteLine(" KiB used");
        }

        private static void Time()
        {
            Console.Write("keel: system time ");
            Console.Decimal(SystemClock.Now / 1_000_000);
            Console.Write(" ms, ");
            Console.Decimal(Timer.Ticks);
            Console.WriteLine(" timer interrupts");
        }

        private static void Input()
        {
            Console.Write("keel: serial input: ");
            Console.Decimal((ulong)SerialInput.Ring.Count);
            Console.Write(" bytes waiting for dom0, ");
            Console.Decimal(SerialInput.Ring.Dropped);
            Console.WriteLine(" dropped because the ring was full");
        }

        private static void Unknown(byte key)
        {
            Console.Write("keel: key ");
            if (key >= 0x20 && key < 0x7F)
            {
                Console.Write('\'');
                Console.Write((char)key);
                Console.Write('\'');
            }
            else
            {
                Console.Hex(key, 2);
            }
            Console.WriteLine(" does nothing ('h' lists the keys)");
        }
    }
}

using System;
using System.Threading;
using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Control
{
    /// <summary>
    /// The console back-end (xenconsoled's job, in the control domain): every domain the control domain
    /// builds gets its console page mapped here through the grant the builder left at
    /// GNTTAB_RESERVED_CONSOLE, and its console port bound. Each time the port fires (and once at attach),
    /// the ring's output is drained to the serial console as that domain's output, a line at a time, and
    /// the domain is notified that its ring has room again: guests such as GRUB spin until out_cons
    /// reaches out_prod, so a consumer must exist for every console page.
    ///
    /// The ring (xen/include/public/io/console.h): out[2048] at 1024; out_cons at 3080 (ours to write),
    /// out_prod at 3084 (the guest's). Indices run free and are masked by the size. The guest can write
    /// anything there, so an out_prod more than 2048 ahead of out_cons is a lie: what it claims is dropped
    /// and the domain told once. Terminal escape sequences (ESC [ ... final byte) are removed, as is '\r';
    /// the kernel defuses any other control character and prefixes the domain's name.
    /// </summary>
    internal static unsafe class ConsoleBackend
    {
        private const int OutOffset = 1024, OutBytes = 2048, OutConsumer = 3080, OutProducer = 3084;
        private const int MaxPorts = (int)Events.PortCount;
        private const byte Escape = 0x1B;

        private sealed class Console
        {
            internal ushort Domain;
            internal string Name;
            internal byte* Ring;
            internal ulong Window;
            internal uint Handle;
            internal uint Port;
            internal bool Attached;
            internal bool ToldCorrupt;

            /// <summary>0 outside an escape sequence, 1 after ESC, 2 inside ESC [ until its final byte.</summary>
            internal byte EscapeState;
        }

        private static readonly Console[] s_byPort = new Console[MaxPorts];
        private static readonly Console[] s_detached = new Console[64];
        private static int s_detachedCount;
        private static readonly byte[] s_chunk = new byte[OutBytes];

        /// <summary>Maps the domain's console page and binds its console port; false (and says why) if either fails.</summary>
        internal static bool Attach(ushort domain, string name, in DomainServices services)
        {
            Console console = s_detachedCount > 0 ? s_detached[--s_detachedCount] : new Console { Window = Pages.TakeWindow(1) };
            if (console.Window == 0) return Refuse(name, "no address space left");
            long rc = Grants.Map(domain, GrantEntry.ReservedConsole, console.Window, readOnly: false, out console.Handle);
            if (rc != 0)
            {
                s_detached[s_detachedCount++] = console;
                return Refuse(name, "the console grant could not be mapped: " + DomainConsole.Decimal(rc));
            }
            long port = Events.BindInterdomain(domain, services.ConsolePort);
            if (port <= 0 || port >= MaxPorts)
            {
                Grants.Unmap(console.Window, console.Handle);
                s_detached[s_detachedCount++] = console;
                return Refuse(name, "the console port could not be bound: " + DomainConsole.Decimal(port));
            }
            console.Domain = domain;
            console.Name = name;
            console.Ring = (byte*)console.Window;
            console.Port = (uint)port;
            console.Attached = true;
            console.ToldCorrupt = false;
            console.EscapeState = 0;
            s_byPort[port] = console;
            Events.Unmask((uint)port);
            Drain(console);
            return true;
        }

        private static bool Refuse(string name, string why)
        {
            DomainConsole.WriteLine("control: no console for " + name + ": " + why);
            return false;
        }

        /// <summary>The domain ended: what is left in its ring is printed, then the page is unmapped and the port closed.</summary>
        internal static void Detach(ushort domain)
        {
            for (int p = 1; p < MaxPorts; p++)
            {
                Console console = s_byPort[p];
                if (console == null || console.Domain != domain) continue;
                Drain(console);
                Grants.Unmap(console.Window, console.Handle);
                Events.Close(console.Port);
                console.Attached = false;
                s_byPort[p] = null;
                if (s_detachedCount < s_detached.Length) s_detached[s_detachedCount++] = console;
                return;
            }
        }

        /// <summary>Drains every console whose port fired.</summary>
        internal static void Serve()
        {
            for (uint p = Events.NextPending(1); p != 0 && p < MaxPorts; p = Events.NextPending(p + 1))
            {
                Console console = s_byPort[p];
                if (console != null && Events.TakePending(p)) Drain(console);
            }
        }

        private static void Drain(Console console)
        {
            ref uint consumerField = ref *(uint*)(console.Ring + OutConsumer);
            uint consumer = Volatile.Read(ref consumerField);
            uint producer = Volatile.Read(ref *(uint*)(console.Ring + OutProducer));
            uint queued = producer - consumer;
            if (queued > OutBytes)
            {
                if (!console.ToldCorrupt)
                {
                    DomainConsole.WriteLine("control: the console ring of " + console.Name + " claims " + DomainConsole.Decimal(queued) + " bytes; dropped");
                    console.ToldCorrupt = true;
                }
                Volatile.Write(ref consumerField, producer);
                Events.Send(console.Port);
                return;
            }
            if (queued == 0) return;
            int kept = 0;
            for (uint i = 0; i < queued; i++)
            {
                byte c = console.Ring[OutOffset + (int)((consumer + i) % OutBytes)];
                if (Keep(console, c)) s_chunk[kept++] = c;
            }
            // Everything is copied out before out_cons moves: the guest may reuse the space at once.
            Volatile.Write(ref consumerField, producer);
            fixed (byte* text = s_chunk) Hypercall.ConsoleWriteFor(console.Domain, text, kept);
            Events.Send(console.Port);
        }

        /// <summary>Whether a byte is shown: not '\r', not part of an ESC [ ... sequence (ECMA-48: parameters and
        /// intermediates 0x20-0x3F, then one final byte 0x40-0x7E) or a two-byte ESC sequence.</summary>
        private static bool Keep(Console console, byte c)
        {
            switch (console.EscapeState)
            {
                case 1:
                    console.EscapeState = c == (byte)'[' ? (byte)2 : (byte)0;
                    return false;
                case 2:
                    if (c >= 0x40 && c <= 0x7E) console.EscapeState = 0;
                    return false;
            }
            if (c == Escape)
            {
                console.EscapeState = 1;
                return false;
            }
            return c != (byte)'\r';
        }
    }
}

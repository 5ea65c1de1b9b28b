using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// The "events" test: a domain's own event channels, one line per check: an IPI port it signals itself
    /// on, polled while pending and while masked, VIRQ_TIMER ending a poll, the refusals (closed ports,
    /// another domain's virtual IRQs), status, and ports exhausted without harm.
    /// </summary>
    internal static unsafe class EventTests
    {
        private const ulong Ms = 1_000_000;

        internal static void Run()
        {
            SharedInfo.Map();
            long ipi = Events.BindIpi();
            Say("bind_ipi gives a port", ipi > 0 ? 0 : ipi);
            uint port = (uint)ipi;
            Say("status of the IPI port", Events.Status(port));
            Say("send", Events.Send(port));
            Say("the port is pending", Events.IsPending(port) ? 0 : -1);
            uint* ports = stackalloc uint[1];
            ports[0] = port;
            ulong before = Clock.Now;
            Say("poll on a pending port returns at once", Events.Poll(ports, 1, before + 1000 * Ms));
            Say("it did not wait", Clock.Now - before < 500 * Ms ? 0 : -1);
            Events.Clear(port);
            Events.Mask(port);
            Events.Send(port);
            Say("a masked port still becomes pending", Events.IsPending(port) ? 0 : -1);
            Say("unmask", Events.Unmask(port));
            Events.Clear(port);

            long timer = Events.BindVirq(0);
            Say("bind_virq VIRQ_TIMER gives a port", timer > 0 ? 0 : timer);
            Say("bind_virq VIRQ_TIMER twice", Events.BindVirq(0));
            Say("bind_virq VIRQ_DOM_EXC (the control domain's)", Events.BindVirq(3));
            ports[0] = (uint)timer;
            before = Clock.Now;
            Clock.SetTimer(before + 30 * Ms);
            Say("poll on the timer port", Events.Poll(ports, 1, before + 2000 * Ms));
            ulong waited = Clock.Now - before;
            Say("VIRQ_TIMER ended the poll after 30 ms, before the timeout", waited >= 30 * Ms && waited < 1000 * Ms && Events.IsPending((uint)timer) ? 0 : -1);

            Say("close", Events.Close(port));
            Say("send on a closed port", Events.Send(port));
            ports[0] = port;
            Say("poll on a closed port", Events.Poll(ports, 1, Clock.Now + Ms));
            Say("poll on nothing, forever", Events.Poll(ports, 0, 0));
            Say("status of port 0", Events.Status(0));
            int bound = 0;
            long last = 0;
            for (int i = 0; i < 5000 && last >= 0; i++)
            {
                last = Events.BindIpi();
                if (last > 0) bound++;
            }
            Say("ports exhausted after " + DomainConsole.Decimal(bound) + " more", last);
            DomainConsole.WriteLine("test domain: powering off");
        }

        private static void Say(string what, long result) => DomainConsole.WriteLine("events: " + what + ": " + DomainConsole.Decimal(result));
    }
}

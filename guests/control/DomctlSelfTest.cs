using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Control
{
    /// <summary>
    /// The control domain's check of its own tools (command line "domctl-test"): it builds a domain from the
    /// manifest's first kernel and walks it through every domctl it relies on, printing one line per step:
    /// built paused, unpaused and running, paused (its CPU time stands still), unpaused again, max_mem,
    /// destroyed (dying, its frames given back), and the refusals (an unknown domain, itself, a destroyed
    /// one, a wrong interface version, Xen's empty createdomain).
    /// </summary>
    internal static unsafe class DomctlSelfTest
    {
        private const ulong Ms = 1_000_000;

        internal static void Run(uint kernelModule)
        {
            long built = Domctl.Build(kernelModule, 8, 256, "subject", "spin=0:600000", out _);
            Say("build", built >= 0 ? 0 : built);
            if (built < 0) return;
            var id = (ushort)built;
            Domctl.GetInfo(id, out DomainStatus status);
            Say("built domain is paused", (status.Flags & DomctlAbi.Paused) != 0 ? 0 : -1);
            Say("unpause", Domctl.Unpause(id));
            Clock.SleepUntil(Clock.Now + 300 * Ms);
            Domctl.GetInfo(id, out status);
            ulong ranBefore = status.CpuTimeNs;
            Say("running domain has used CPU time", ranBefore > 0 && (status.Flags & DomctlAbi.Paused) == 0 ? 0 : -1);
            Say("pause", Domctl.Pause(id));
            Domctl.GetInfo(id, out status);
            ulong pausedAt = status.CpuTimeNs;
            Clock.SleepUntil(Clock.Now + 300 * Ms);
            Domctl.GetInfo(id, out status);
            Say("paused domain's CPU time stands still", status.CpuTimeNs == pausedAt && (status.Flags & DomctlAbi.Paused) != 0 ? 0 : -1);
            Say("unpause again", Domctl.Unpause(id));
            Clock.SleepUntil(Clock.Now + 300 * Ms);
            Domctl.GetInfo(id, out status);
            Say("unpaused domain runs again", status.CpuTimeNs > pausedAt ? 0 : -1);
            Say("max_mem to its current size", Domctl.MaxMem(id, (status.TotalPages) * 4));
            Say("destroy", Domctl.Destroy(id));
            Domctl.GetInfo(id, out status);
            Say("destroyed domain is dying and shut down", status.HasEnded && (status.Flags & DomctlAbi.Dying) != 0 && status.TotalPages == 0 ? 0 : -1);
            Say("destroy it again", Domctl.Destroy(id));
            Say("pause a destroyed domain", Domctl.Pause(id));
            Say("getdomaininfo past the last domain", Domctl.GetInfo(1000, out _));
            Say("pause the control domain itself", Domctl.Pause(0));
            Say("a wrong interface version", WrongVersion());
            Say("Xen's createdomain", Raw(DomctlAbi.CreateDomain));
        }

        private static long WrongVersion()
        {
            DomctlAbi.Request request = default;
            request.Command = DomctlAbi.GetDomainInfo;
            request.InterfaceVersion = DomctlAbi.InterfaceVersion - 1;
            return Hypercall.Raw((ulong)HypercallNumber.Domctl, (ulong)&request);
        }

        private static long Raw(uint command)
        {
            DomctlAbi.Request request = default;
            request.Command = command;
            request.InterfaceVersion = DomctlAbi.InterfaceVersion;
            return Hypercall.Raw((ulong)HypercallNumber.Domctl, (ulong)&request);
        }

        private static void Say(string step, long result) => DomainConsole.WriteLine("control: domctl " + step + ": " + DomainConsole.Decimal(result));
    }
}

using Keel.Kernel.Paging;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>What multicall does after each entry (xen/common/multicall.c, xen/arch/x86/pv/hypercall.c).</summary>
    public enum MulticallStep
    {
        /// <summary>Write the result back and go on with the next entry.</summary>
        Next,

        /// <summary>
        /// The entry was iret, which has already moved the vCPU to the frame it named: write the result back as
        /// best one can and end the multicall with the iret's result (Xen's mc_exit, from XSA-213: before it,
        /// the entries after an iret to guest user mode ran as hypercalls from user mode).
        /// </summary>
        Exit,

        /// <summary>The vCPU stopped (it blocked): write the result back and leave the rest for when it runs again.</summary>
        ContinueLater,

        /// <summary>The domain ended (a shutdown, or a crash): its memory is gone, so nothing more is read or written.</summary>
        Abandon,
    }

    /// <summary>
    /// The rules of multicall (13) as pure functions: the list check, the calls refused inside, how many
    /// entries one kernel entry carries out, and what follows each entry.
    /// </summary>
    public static class MulticallRules
    {
        public const ulong EntryBytes = 64;

        /// <summary>
        /// Entries carried out per kernel entry. Xen preempts a long multicall whenever the scheduler wants the
        /// CPU and continues it later; Keel, which runs hypercalls with interrupts off, does the same after this
        /// many, so one guest cannot hold the CPU for a list of any length.
        /// </summary>
        public const ulong EntriesPerVisit = 64;

        /// <summary>Xen's guest_handle_okay: the count times the entry size fits, and the list starts where a guest may point.</summary>
        public static bool ListAccepted(ulong list, ulong count) => count < ulong.MaxValue / EntryBytes && EntryRules.IsGuestAddress(list);

        /// <summary>Whether to stop before entry <paramref name="index"/> and leave it and the rest to a continuation.</summary>
        public static bool PreemptBefore(ulong index) => index != 0 && index % EntriesPerVisit == 0;

        /// <summary>
        /// A multicall inside a multicall is refused with -EINVAL and the rest goes on (Xen's do_multicall
        /// refuses re-entry), so a list can never recurse.
        /// </summary>
        public static bool IsRefusedInside(HypercallNumber op) => op == HypercallNumber.Multicall;

        public static MulticallStep After(HypercallNumber op, bool domainAlive, bool vcpuRunnable)
        {
            if (!domainAlive) return MulticallStep.Abandon;
            if (op == HypercallNumber.Iret) return MulticallStep.Exit;
            return vcpuRunnable ? MulticallStep.Next : MulticallStep.ContinueLater;
        }
    }
}

using System;
using Keel.Kernel.Arch.X64;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;

namespace Keel.Kernel.Paging
{
    /// <summary>
    /// The machine's one frame table and the direct-paging rules over real memory (the direct map), set up
    /// once the kernel's own tables and the M2P exist, and the kernel's side of a TLB flush request.
    /// </summary>
    internal static class MachinePaging
    {
        internal static FrameTable Frames { get; private set; }
        internal static DirectPaging<DirectMap, Io.MachineIo.Permits> Paging { get; private set; }

        /// <summary>The hypervisor's L4 slots (256-271) every guest L4 gets are the kernel's own entries.</summary>
        internal static void Initialise(FrameAllocator allocator, int domains, ulong kernelRoot)
        {
            Frames = new FrameTable(allocator, domains);
            ReadOnlySpan<ulong> slots = default(DirectMap).Table(kernelRoot).Slice(EntryRules.FirstHypervisorSlot, EntryRules.HypervisorSlots);
            Paging = new DirectPaging<DirectMap, Io.MachineIo.Permits>(Frames, default, default, slots, MachineToPhysical.FrameNumbers());
        }

        /// <summary>
        /// Carries out what an operation says the TLB needs before the guest runs again. There is one CPU, so
        /// flushes for other vCPUs are this one's; Keel runs with CR4.PGE clear, so a CR3 load drops every
        /// translation, the guests' global ones included. Write-back of caches is asked only by domains with
        /// I/O access (MmuExtOps refuses it to the others).
        /// </summary>
        internal static void Apply(in TlbFlush flush, Vcpu vcpu)
        {
            if (flush.ReloadBase || flush.Kind == TlbFlushKind.All) AddressSpaceSwitch.Reload(vcpu.CurrentTable);
            else if (flush.Kind == TlbFlushKind.Page) AddressSpaceSwitch.InvalidatePage(flush.Address);
            if (flush.WriteBackCaches) AddressSpaceSwitch.WriteBackCaches();
        }
    }
}

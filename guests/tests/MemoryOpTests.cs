using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// memory_op: the sizes it reports, frames given back and taken again with the M2P kept, and what it
    /// must refuse or survive: other domains (it is unprivileged) and unknown ones, bad pointers, orders and flags Keel does not
    /// honour, populating past the quota, and giving back frames still in use (its own page tables, the
    /// frame its stack is in, shared_info), which Xen counts as done while the frames live on.
    /// </summary>
    internal static unsafe class MemoryOpTests
    {
        private const ulong Current = MemoryCommand.CurrentReservation, Maximum = MemoryCommand.MaximumReservation;
        private const ulong Decrease = MemoryCommand.DecreaseReservation, Populate = MemoryCommand.PopulatePhysmap;

        internal static void Run()
        {
            Queries();
            GiveBackAndPopulate();
            Refusals();
            FramesInUse();
        }

        private static void Queries()
        {
            Line("current_reservation of DOMID_SELF", Reservation(Current, DomainIds.Self));
            Line("maximum_reservation of DOMID_SELF", Reservation(Maximum, DomainIds.Self));
            // Its own id answers, another domain's is refused, and one that does not exist is not found.
            string answers = "";
            for (ushort id = 0; id < 4; id++) answers += (id == 0 ? "" : " ") + DomainConsole.Decimal(Reservation(Current, id));
            DomainConsole.WriteLine("hypercalls: current_reservation of domains 0 to 3: " + answers);
            Line("maximum_reservation of domain 0", Reservation(Maximum, 0));
            Line("current_reservation of DOMID_IO", Reservation(Current, DomainIds.Io));
            Line("current_reservation with a kernel pointer", Hypercall.MemoryOp(Current, (void*)HypercallTests.KernelAddress));
            ushort self = DomainIds.Self;
            Line("current_reservation with start_extent 1", Hypercall.MemoryOp(Current | (1UL << MemoryCommand.ExtentShift), &self));
            Line("maximum_ram_page", Hypercall.MemoryOp(MemoryCommand.MaximumRamPage, null));
            Line("memory_op 9 (memory_map)", Hypercall.MemoryOp(MemoryCommand.MemoryMap, null));
            Line("memory_op 63", Hypercall.MemoryOp(63, null));
        }

        /// <summary>
        /// The last two pfns lie beyond the initial mapping and are never used: their frames go back, requests
        /// Keel must refuse leave the two free slots of the quota untouched, then the pfns get new frames.
        /// </summary>
        private static void GiveBackAndPopulate()
        {
            StartInfo* info = DomainEntry.StartInfo;
            ulong* p2m = (ulong*)info->MfnList;
            ulong a = info->NrPages - 1, b = info->NrPages - 2;
            ulong* extents = stackalloc ulong[2];
            extents[0] = p2m[a];
            extents[1] = p2m[b];
            Line("decrease_reservation of two unused frames", Change(Decrease, extents, 2));
            Line("current_reservation after it", Reservation(Current, DomainIds.Self));
            extents[0] = a;
            Line("populate_physmap of order 9", Change(Populate, extents, 1, order: 9));
            Line("populate_physmap populate-on-demand", Change(Populate, extents, 1, flags: MemoryFlags.PopulateOnDemand));
            Line("populate_physmap within 16 address bits", Change(Populate, extents, 1, flags: 16));
            Line("populate_physmap for domain 5, which does not exist", Change(Populate, extents, 1, domain: 5));
            Line("populate_physmap with its extent array in the M2P", Change(Populate, (ulong*)HypercallTests.MachineToPhysicalAddress, 1));
            extents[1] = b;
            long rc = Change(Populate, extents, 2);
            bool known = Memory.PhysicalFrame(extents[0]) == a && Memory.PhysicalFrame(extents[1]) == b;
            Line("populate_physmap of their pfns", rc, known ? "the M2P maps the new frames to them" : "the M2P does not know them");
            p2m[a] = extents[0];
            p2m[b] = extents[1];
            Line("current_reservation after it", Reservation(Current, DomainIds.Self));
            extents[0] = a;
            Line("populate_physmap beyond the quota", Change(Populate, extents, 1));
            extents[0] = p2m[a];
            extents[1] = p2m[a];
            Line("decrease_reservation of one unused frame twice", Change(Decrease, extents, 2));
            extents[0] = a;
            Line("populate_physmap of its pfn again", Change(Populate, extents, 1));
            p2m[a] = extents[0];
        }

        private static void Refusals()
        {
            ulong* extents = stackalloc ulong[1];
            extents[0] = 0x100;
            Line("decrease_reservation of a frame it does not own", Change(Decrease, extents, 1));
            extents[0] = 1UL << 40;
            Line("decrease_reservation of a frame beyond memory", Change(Decrease, extents, 1));
            extents[0] = ((ulong*)DomainEntry.StartInfo->MfnList)[DomainEntry.StartInfo->NrPages - 1];
            Line("decrease_reservation of order 1", Change(Decrease, extents, 1, order: 1));
            Line("decrease_reservation of more extents than Xen takes", Change(Decrease, extents, 1UL << 40));
            Line("decrease_reservation starting at extent 1 of 1", Change(Decrease, extents, 1, startExtent: 1));
            Line("decrease_reservation with an unmapped extent array", Change(Decrease, (ulong*)0x1000, 1));
            Line("decrease_reservation with a kernel pointer", Hypercall.MemoryOp(Decrease, (void*)HypercallTests.KernelAddress));
            Line("current_reservation after the refusals", Reservation(Current, DomainIds.Self));
        }

        /// <summary>Frames the domain still uses, given back: the call succeeds and they stay until the domain lets go.</summary>
        private static void FramesInUse()
        {
            StartInfo* info = DomainEntry.StartInfo;
            ulong tables = (info->PtBase - DomainEntry.ImageBase) / Memory.PageSize;
            ulong* extents = stackalloc ulong[2];
            extents[0] = Memory.MachineFrame(tables);
            extents[1] = Memory.MachineFrame(tables + info->NrPtFrames - 1);
            Line("decrease_reservation of its L4 and an L1, both in use", Change(Decrease, extents, 2), "still running on them");
            extents[0] = Memory.MachineFrame(((ulong)extents - DomainEntry.ImageBase) / Memory.PageSize);
            long rc = Change(Decrease, extents, 1);
            extents[1] = 0x5EC;
            Line("decrease_reservation of the frame its stack is in", rc, extents[1] == 0x5EC ? "the stack still works" : "the stack is broken");
            extents[0] = info->SharedInfo / Memory.PageSize;
            rc = Change(Decrease, extents, 1);
            Line("decrease_reservation of shared_info", rc, "still mapped, upcall mask " + DomainConsole.Decimal(SharedInfo.Page[SharedInfoLayout.UpcallMask]));
            extents[0] = Memory.MachineFrame(tables);
            Line("decrease_reservation of its L4 again", Change(Decrease, extents, 1));
            Line("current_reservation with those frames still in use", Reservation(Current, DomainIds.Self));
        }

        private static long Reservation(ulong command, ushort domain) => Hypercall.MemoryOp(command, &domain);

        private static long Change(ulong command, ulong* extents, ulong count, uint order = 0, uint flags = 0, ushort domain = DomainIds.Self, ulong startExtent = 0)
        {
            var request = new MemoryReservation { ExtentStart = (ulong)extents, NrExtents = count, ExtentOrder = order, MemFlags = flags, DomainId = domain };
            return Hypercall.MemoryOp(command | (startExtent << MemoryCommand.ExtentShift), &request);
        }

        private static void Line(string what, long result, string note = "") => HypercallTests.Line(what, result, note);
    }
}

using System;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Kernel.Paging;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// memory_op (12) for PV domains, as xen/common/memory.c answers (layouts in xen/include/public/
    /// memory.h): the machine's and a domain's sizes, and the two reservation commands a PV balloon driver
    /// uses. decrease_reservation gives frames back, populate_physmap takes new ones up to the domain's quota
    /// and records their pfns in the M2P. A reservation command returns how many extents it did; a request
    /// Xen would not carry out, or an extent that fails, ends it there, without an error code. Every extent is
    /// copied in (and its MFN out) one at a time, as Xen does, so a bad pointer stops the call where it
    /// points. Work per call is bounded by the domain's size: each extent that succeeds takes or gives back
    /// a frame, and the first that cannot ends the call (Xen's continuations are not needed).
    /// Other commands (increase_reservation, exchange, memory_map, ...) answer -ENOSYS.
    /// </summary>
    internal static unsafe class MemoryOp
    {
        internal static long Handle(Vcpu vcpu, in HypercallArguments call)
        {
            uint command = (uint)(call.A1 & MemoryCommand.CommandMask);
            ulong startExtent = call.A1 >> MemoryCommand.ExtentShift;
            switch (command)
            {
                case MemoryCommand.DecreaseReservation:
                case MemoryCommand.PopulatePhysmap:
                    return (long)Reservation(vcpu, command, startExtent, call.A2);
                case MemoryCommand.MaximumRamPage:
                    return startExtent != 0 ? Errno.EINVAL : (long)MachinePaging.Frames.FrameCount;
                case MemoryCommand.CurrentReservation:
                case MemoryCommand.MaximumReservation:
                    return startExtent != 0 ? Errno.EINVAL : ReservationOf(vcpu, command, call.A2);
                default:
                    return Errno.ENOSYS;
            }
        }

        /// <summary>
        /// current_reservation and maximum_reservation (argument: a domid_t): the frames a domain owns, and its
        /// quota (Xen's tot_pages and max_pages; Keel counts shared_info among them, as one of the domain's
        /// frames). -EFAULT for an unreadable argument, -ESRCH for no such domain, -EPERM for another domain
        /// unless the caller is the control domain.
        /// </summary>
        private static long ReservationOf(Vcpu vcpu, uint command, ulong argument)
        {
            if (!GuestMemory.TryRead(vcpu, argument, out ushort requested)) return Errno.EFAULT;
            ushort id = ReservationRules.Target(requested, vcpu.Domain.Id);
            if (DomainTable.Find(id) == null) return Errno.ESRCH;
            if (!ReservationRules.MayActOn(vcpu.Domain.Id, vcpu.Domain.Privileged, id)) return Errno.EPERM;
            FrameTable frames = MachinePaging.Frames;
            return command == MemoryCommand.CurrentReservation ? frames.OwnedFrames(id) : frames.QuotaOf(id);
        }

        /// <summary>Decode (struct xen_memory_reservation, the rules, a live target), then carry out from startExtent on.</summary>
        private static ulong Reservation(Vcpu vcpu, uint command, ulong startExtent, ulong argument)
        {
            if (!GuestMemory.TryRead(vcpu, argument, out MemoryReservation request)) return startExtent;
            if (!ReservationRules.TryAccept(request, command, startExtent, vcpu.Domain.Id, vcpu.Domain.Privileged, MachinePaging.Frames.FrameCount, out ushort id)) return startExtent;
            Domain target = DomainTable.Find(id);
            if (target == null || !target.IsAlive) return startExtent;
            return command == MemoryCommand.PopulatePhysmap ? Populate(vcpu, target, request, startExtent) : Decrease(vcpu, target, request, startExtent);
        }

        /// <summary>
        /// populate_physmap for a PV domain: each extent's pfn is read, a zeroed frame is taken within the
        /// domain's quota, the M2P learns its pfn, and its MFN is written over the pfn. A frame whose MFN cannot
        /// be written back stays the domain's, as on Xen.
        /// </summary>
        private static ulong Populate(Vcpu vcpu, Domain target, in MemoryReservation request, ulong startExtent)
        {
            for (ulong i = startExtent; i < request.NrExtents; i++)
            {
                ulong at = request.ExtentStart + i * sizeof(ulong);
                if (!GuestMemory.TryRead(vcpu, at, out ulong pfn)) return i;
                if (MachinePaging.Paging.AllocateFrame(target.Id, out ulong mfn) != 0) return i;
                MachineToPhysical.Set(mfn, pfn);
                if (pfn < (ulong)target.PhysicalToMachine.Length) target.PhysicalToMachine[pfn] = mfn;
                if (!GuestMemory.TryWrite(vcpu, at, new ReadOnlySpan<byte>(&mfn, sizeof(ulong)))) return i;
            }
            return request.NrExtents;
        }

        /// <summary>
        /// decrease_reservation for a PV domain: each extent names an MFN of the domain, which it gives back
        /// (DirectPaging.GiveBackFrame: a frame still mapped or used as a table lives on until that ends). The
        /// M2P is left as it is, as Xen leaves it; the kernel's p2m forgets the page. The TLB flush that freed
        /// frames need is done once, before the guest runs again.
        /// </summary>
        private static ulong Decrease(Vcpu vcpu, Domain target, in MemoryReservation request, ulong startExtent)
        {
            TlbFlush flush = default;
            ulong i = startExtent;
            for (; i < request.NrExtents; i++)
            {
                if (!GuestMemory.TryRead(vcpu, request.ExtentStart + i * sizeof(ulong), out ulong mfn)) break;
                if (MachinePaging.Paging.GiveBackFrame(target.Id, mfn, ref flush) != 0) break;
                ulong pfn = MachineToPhysical.Get(mfn);
                if (pfn < (ulong)target.PhysicalToMachine.Length && target.PhysicalToMachine[pfn] == mfn) target.PhysicalToMachine[pfn] = 0;
            }
            MachinePaging.Apply(flush, vcpu);
            return i;
        }
    }
}

using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// The "paging" test: the domain changes its own mappings through mmu_update, update_va_mapping and
    /// mmuext_op, then tries what direct paging must refuse, printing each result (Xen's error codes).
    /// </summary>
    internal static unsafe class PagingTests
    {
        private const ulong Present = 1, Writable = 2, Accessed = 0x20, Dirty = 0x40, PageSize2M = 0x80;

        internal static void Run()
        {
            StartInfo* info = DomainEntry.StartInfo;
            ulong spare = Memory.InitialMappingEnd - 2 * Memory.PageSize;
            ulong l4 = Memory.MachineFrame((info->PtBase - DomainEntry.ImageBase) / Memory.PageSize);
            ulong startInfoMfn = Memory.MachineFrame(((ulong)info - DomainEntry.ImageBase) / Memory.PageSize);

            // An alias: the spare page now shows start_info, read-only.
            long alias = Memory.UpdateVaMapping(spare, (startInfoMfn << 12) | Present | Accessed, UpdateVaFlags.Invlpg);
            bool same = alias == 0 && *(ulong*)(spare + 32) == info->NrPages;
            Line("update_va_mapping alias of start_info", alias, same ? "reads the same" : "reads differently");
            long viaMmu = Memory.MmuUpdate(Memory.L1EntryMachineAddress(spare), (startInfoMfn << 12) | Present | Writable | Accessed | Dirty);
            Line("mmu_update the alias writable", viaMmu, "");
            Line("mmu_update MACHPHYS of an own frame", Memory.MmuUpdate((startInfoMfn << 12) | MmuUpdateRequest.MachPhysUpdate, ((ulong)info - DomainEntry.ImageBase) / Memory.PageSize), "");

            // Refused: a page-table frame writable, a frame the domain does not own, a large page, the
            // hypervisor's L4 slots, a non-canonical address, a data page as an L4.
            Line("map its own L4 writable", Memory.UpdateVaMapping(spare, (l4 << 12) | Present | Writable | Accessed | Dirty, UpdateVaFlags.Invlpg), "");
            Line("map a frame it does not own", Memory.UpdateVaMapping(spare, (0x100UL << 12) | Present | Accessed, UpdateVaFlags.Invlpg), "");
            Line("a large-page entry", Memory.UpdateVaMapping(spare, (startInfoMfn << 12) | Present | PageSize2M | Accessed, UpdateVaFlags.Invlpg), "");
            Line("write L4 slot 256", Memory.MmuUpdate((l4 << 12) + 256 * 8, (startInfoMfn << 12) | Present), "");
            Line("update_va_mapping of a non-canonical address", Memory.UpdateVaMapping(0x0000800000000000, 0, UpdateVaFlags.Invlpg), "");
            Line("NEW_BASEPTR to a data page", Memory.MmuExt(MmuExtRequest.NewBaseptr, startInfoMfn), "");
            Line("pin its L4 a second time", Memory.MmuExt(MmuExtRequest.PinL4Table, l4), "");
            Line("mmu_update with a kernel pointer", Hypercall.Raw((ulong)HypercallNumber.MmuUpdate, 0xFFFF82D080200000, 1, 0, DomainIds.Self), "");
            Line("TLB_FLUSH_LOCAL", Memory.MmuExt(MmuExtRequest.TlbFlushLocal, 0), "");
            DomainConsole.WriteLine("test domain: powering off");
        }

        private static void Line(string what, long rc, string note)
        {
            DomainConsole.WriteLine("paging: " + what + ": " + DomainConsole.Decimal(rc) + (note.Length > 0 ? " (" + note + ")" : ""));
        }
    }
}

using System;
using Keel.Ringlib.Xen;

namespace Keel.Runtime
{
    /// <summary>
    /// The domain's view of its own memory under direct paging: its page tables (readable in the initial
    /// mapping, never writable), the p2m list and the machine-to-physical table, and the MMU hypercalls that
    /// change mappings.
    /// </summary>
    public static unsafe class Memory
    {
        public const ulong PageSize = 4096;
        private const ulong MachineToPhysicalBase = 0xFFFF800000000000;
        private const ulong AddressMask = 0x000F_FFFF_FFFF_F000;

        /// <summary>Machine frame of a pseudo-physical page (the p2m list in start_info).</summary>
        public static ulong MachineFrame(ulong pfn) => ((ulong*)DomainEntry.StartInfo->MfnList)[pfn];

        /// <summary>Pseudo-physical page of a machine frame (the read-only M2P).</summary>
        public static ulong PhysicalFrame(ulong mfn) => ((ulong*)MachineToPhysicalBase)[mfn];

        /// <summary>Where pseudo-physical page pfn is in the initial mapping.</summary>
        public static ulong VirtualAddress(ulong pfn) => DomainEntry.ImageBase + pfn * PageSize;

        /// <summary>
        /// The first address past the initial mapping, computed as the domain builder lays it out: the boot
        /// stack follows the page tables, then at least 512 KiB more, rounded up to 4 MiB.
        /// </summary>
        public static ulong InitialMappingEnd
        {
            get
            {
                StartInfo* info = DomainEntry.StartInfo;
                ulong stackEnd = info->PtBase + (info->NrPtFrames + 1) * PageSize;
                const ulong Rounding = 4 * 1024 * 1024;
                return (stackEnd + 512 * 1024 + Rounding - 1) / Rounding * Rounding;
            }
        }

        /// <summary>
        /// The machine address of the L1 entry that maps va, found by walking the domain's own tables (each
        /// table's frame is turned back into a virtual address through the M2P; they all lie in the initial
        /// mapping). 0 if some level is not present.
        /// </summary>
        public static ulong L1EntryMachineAddress(ulong va) => EntryMachineAddress(va, 1);

        /// <summary>As <see cref="L1EntryMachineAddress"/>, for the entry of the table at <paramref name="level"/> (1-4) that covers va.</summary>
        public static ulong EntryMachineAddress(ulong va, int level)
        {
            ulong table = DomainEntry.StartInfo->PtBase;
            for (int walked = 4; walked > level; walked--)
            {
                ulong entry = ((ulong*)table)[(va >> (12 + 9 * (walked - 1))) & 511];
                if ((entry & 1) == 0) return 0;
                table = VirtualAddress(PhysicalFrame((entry & AddressMask) / PageSize));
            }
            ulong tableMfn = MachineFrame((table - DomainEntry.ImageBase) / PageSize);
            return tableMfn * PageSize + ((va >> (12 + 9 * (level - 1))) & 511) * 8;
        }

        public static long MmuUpdate(ulong ptr, ulong value)
        {
            MmuUpdateRequest request = new MmuUpdateRequest { Ptr = ptr, Val = value };
            uint done = 0;
            return Hypercall.Raw((ulong)HypercallNumber.MmuUpdate, (ulong)&request, 1, (ulong)&done, DomainIds.Self);
        }

        public static long UpdateVaMapping(ulong va, ulong value, ulong flags) =>
            Hypercall.Raw((ulong)HypercallNumber.UpdateVaMapping, va, value, flags);

        public static long MmuExt(uint command, ulong arg1, ulong arg2 = 0)
        {
            MmuExtRequest request = new MmuExtRequest { Cmd = command, Arg1 = arg1, Arg2 = arg2 };
            uint done = 0;
            return Hypercall.Raw((ulong)HypercallNumber.MmuextOp, (ulong)&request, 1, (ulong)&done, DomainIds.Self);
        }
    }

    /// <summary>
    /// shared_info, mapped by the domain itself (as Linux's PV kernel does) over the last page of its
    /// initial mapping, which the builder leaves unused: events, time and each vCPU's vcpu_info.
    /// </summary>
    public static unsafe class SharedInfo
    {
        private static byte* s_page;

        public static byte* Page => s_page;

        /// <summary>
        /// update_va_mapping of the page to the machine frame start_info names; 0 on success. Every port is
        /// then masked, as Linux's PV kernel does at boot (xen_evtchn_mask_all): the builder's console and
        /// store ports, for one, are the domain's from the start, and an event on a port nobody handles must
        /// not wake every SCHEDOP_block. Code that serves a port unmasks it (Events.Unmask).
        /// </summary>
        public static long Map()
        {
            ulong va = Memory.InitialMappingEnd - Memory.PageSize;
            // Present, writable, accessed, dirty; the kernel adds the user bit every PV64 mapping needs.
            long rc = Memory.UpdateVaMapping(va, DomainEntry.StartInfo->SharedInfo | 0x63, UpdateVaFlags.Invlpg);
            if (rc != 0) return rc;
            s_page = (byte*)va;
            ulong* mask = (ulong*)(s_page + SharedInfoLayout.EventMask);
            for (int i = 0; i < 64; i++) mask[i] = ulong.MaxValue;
            // What was flagged before the mask (the control domain signals the console port as it attaches)
            // is forgotten; the ports stay pending, and unmasking one flags it again (EVTCHNOP_unmask).
            s_page[SharedInfoLayout.UpcallPending] = 0;
            *(ulong*)(s_page + SharedInfoLayout.PendingSelector) = 0;
            return 0;
        }

        /// <summary>vcpu_info[0].arch.cr2: where the last page fault the kernel bounced happened.</summary>
        public static ulong FaultAddress => *(ulong*)(s_page + SharedInfoLayout.Cr2);
    }
}

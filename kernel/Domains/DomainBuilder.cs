using System;
using Keel.Kernel.Arch.X64;
using Keel.Kernel.Boot;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Domains
{
    /// <summary>
    /// Builds a PV64 domain from an ELF kernel with Xen notes as Xen's domain builder does
    /// (tools/libs/guest/xg_dom_*.c; layout in PvLayout): gives it its pages, loads the kernel, writes the
    /// p2m list, start_info and the initial page tables (every frame of the initial range mapped, the tables
    /// themselves read-only, the hypervisor's L4 slots shared), fills the hypercall page, and sets the vCPU
    /// up at the kernel's entry with RSI pointing at start_info. Every value in the ELF file is checked before
    /// any of it is used; a refusal frees what was taken and says why.
    /// </summary>
    internal static unsafe class DomainBuilder
    {
        private const ulong TableFlags = 0x67;  // present, writable, user, accessed, dirty (Xen's L4-L2 entries for PV64)
        private const ulong LeafFlags = 0x67;
        private const ulong ReadOnlyLeafFlags = 0x65;
        private const int FirstHypervisorSlot = 256, HypervisorSlots = 16;

        internal static string TryBuild(Domain domain, ReadOnlySpan<byte> file, ulong pages, string commandLine, FrameAllocator frames)
        {
            XenElfError elfError = XenElfImage.TryParse(file, out XenElfImage image);
            if (elfError != XenElfError.None) return XenElfImage.Describe(elfError);
            PvLayoutError layoutError = PvLayout.TryCreate(image.VirtBase, image.ImageStart, image.ImageEnd, pages, out PvLayout layout);
            if (layoutError == PvLayoutError.TooLittleMemory) return "the memory size is too small for the kernel and its initial mapping";
            if (layoutError != PvLayoutError.None) return "the kernel's initial mapping would fall outside the guest's part of the address space";
            if (image.HypercallPage != 0 && (image.HypercallPage < image.ImageStart || image.HypercallPage >= image.ImageEnd || image.HypercallPage % PvLayout.PageSize != 0))
            {
                return "the hypercall page is not a page of the kernel image";
            }
            if (frames.FreeFrames < pages + 1) return "not enough free memory";

            ulong[] p2m = new ulong[pages];
            for (ulong pfn = 0; pfn < pages; pfn++)
            {
                frames.TryAllocate(out ulong frame);
                new Span<byte>(DirectMap.Pointer(frame), 4096).Clear();
                p2m[pfn] = frame / PvLayout.PageSize;
                MachineToPhysical.Set(p2m[pfn], pfn);
            }
            frames.TryAllocate(out ulong sharedInfo);
            new Span<byte>(DirectMap.Pointer(sharedInfo), 4096).Clear();
            domain.PhysicalToMachine = p2m;
            domain.SharedInfoMachine = sharedInfo;

            LoadSegments(image, file, layout, p2m);
            WriteP2mList(layout, p2m);
            WriteStartInfo(domain, layout, p2m, pages, commandLine);
            WritePageTables(layout, p2m);
            if (image.HypercallPage != 0) HypercallPage.Fill(Page(p2m, (image.HypercallPage - layout.VirtBase) / PvLayout.PageSize));
            // Every vcpu_info starts with events masked (Xen's builder: evtchn_upcall_mask = 1).
            for (int v = 0; v < SharedInfoLayout.MaxVcpus; v++) DirectMap.Pointer(sharedInfo)[v * SharedInfoLayout.VcpuInfoBytes + SharedInfoLayout.UpcallMask] = 1;

            domain.Vcpu.KernelTable = p2m[layout.TablesPfn] * PvLayout.PageSize;
            fixed (GuestContext* context = &domain.Vcpu.Context)
            {
                GuestContext.InitialiseForGuest(context, image.Entry, layout.VirtualAddress(layout.StackPfn + 1), layout.VirtualAddress(layout.StartInfoPfn));
            }
            return null;
        }

        /// <summary>The 4 KiB of a domain page, through the direct map.</summary>
        private static Span<byte> Page(ulong[] p2m, ulong pfn) => new Span<byte>(DirectMap.Pointer(p2m[pfn] * PvLayout.PageSize), 4096);

        private static Span<ulong> Table(ulong[] p2m, ulong pfn) => new Span<ulong>(DirectMap.Pointer(p2m[pfn] * PvLayout.PageSize), 512);

        /// <summary>Copies each segment's file bytes to exactly vaddr - virt_base; the tail up to memsz stays zero (bss).</summary>
        private static void LoadSegments(XenElfImage image, ReadOnlySpan<byte> file, in PvLayout layout, ulong[] p2m)
        {
            for (int s = 0; s < image.Segments.Length; s++)
            {
                XenElfSegment segment = image.Segments[s];
                ulong done = 0;
                while (done < segment.FileBytes)
                {
                    ulong at = segment.VirtualAddress + done - layout.VirtBase;
                    ulong chunk = Math.Min(segment.FileBytes - done, PvLayout.PageSize - at % PvLayout.PageSize);
                    file.Slice((int)(segment.FileOffset + done), (int)chunk).CopyTo(Page(p2m, at / PvLayout.PageSize).Slice((int)(at % PvLayout.PageSize)));
                    done += chunk;
                }
            }
        }

        private static void WriteP2mList(in PvLayout layout, ulong[] p2m)
        {
            for (ulong pfn = 0; pfn < (ulong)p2m.Length; pfn++)
            {
                Table(p2m, layout.P2mPfn + pfn / 512)[(int)(pfn % 512)] = p2m[pfn];
            }
        }

        private static void WriteStartInfo(Domain domain, in PvLayout layout, ulong[] p2m, ulong pages, string commandLine)
        {
            StartInfo* info = (StartInfo*)DirectMap.Pointer(p2m[layout.StartInfoPfn] * PvLayout.PageSize);
            const string Magic = "xen-3.0-x86_64";
            for (int i = 0; i < Magic.Length; i++) info->Magic[i] = (byte)Magic[i];
            info->NrPages = pages;
            info->SharedInfo = domain.SharedInfoMachine;
            info->Flags = domain.Privileged ? (uint)(StartInfo.Privileged | StartInfo.InitialDomain) : 0;
            info->StoreMfn = p2m[layout.StorePfn];
            info->ConsoleMfn = p2m[layout.ConsolePfn];
            info->PtBase = layout.VirtualAddress(layout.TablesPfn);
            info->NrPtFrames = layout.TableFrames;
            info->MfnList = layout.VirtualAddress(layout.P2mPfn);
            int length = Math.Min(commandLine.Length, StartInfo.CommandLineBytes - 1);
            for (int i = 0; i < length; i++) info->CmdLine[i] = (byte)commandLine[i];
        }

        /// <summary>
        /// The initial tables, in their pfns: the L4, then the L3s, L2s and L1s for [virt_base, MappedEnd), each
        /// level's tables in address order. Every page of the range is mapped writable except the tables'
        /// own frames, which direct paging never lets a guest map writable. The L4's hypervisor slots are
        /// the kernel's own entries, so the kernel is mapped (for ring 0 only) wherever a guest runs.
        /// </summary>
        private static void WritePageTables(in PvLayout layout, ulong[] p2m)
        {
            ulong l3First = layout.TablesPfn + 1, l2First = l3First + layout.L3Tables, l1First = l2First + layout.L2Tables;
            ulong start = layout.VirtBase;
            for (ulong va = start; va != layout.MappedEnd; va += PvLayout.PageSize)
            {
                ulong pfn = (va - start) / PvLayout.PageSize;
                ulong l3 = l3First + ((va >> 39) - (start >> 39)), l2 = l2First + ((va >> 30) - (start >> 30)), l1 = l1First + ((va >> 21) - (start >> 21));
                Table(p2m, layout.TablesPfn)[(int)((va >> 39) & 511)] = p2m[l3] * PvLayout.PageSize | TableFlags;
                Table(p2m, l3)[(int)((va >> 30) & 511)] = p2m[l2] * PvLayout.PageSize | TableFlags;
                Table(p2m, l2)[(int)((va >> 21) & 511)] = p2m[l1] * PvLayout.PageSize | TableFlags;
                Table(p2m, l1)[(int)((va >> 12) & 511)] = p2m[pfn] * PvLayout.PageSize | (layout.IsPageTable(pfn) ? ReadOnlyLeafFlags : LeafFlags);
            }
            Span<ulong> kernel = new Span<ulong>(DirectMap.Pointer(KernelAddressSpace.Current.Root), 512);
            kernel.Slice(FirstHypervisorSlot, HypervisorSlots).CopyTo(Table(p2m, layout.TablesPfn).Slice(FirstHypervisorSlot, HypervisorSlots));
        }

        /// <summary>Returns every frame of a domain that has ended to the allocator and forgets their M2P entries.</summary>
        internal static void Reclaim(Domain domain, FrameAllocator frames)
        {
            ulong[] p2m = domain.PhysicalToMachine;
            if (p2m == null) return;
            for (int pfn = 0; pfn < p2m.Length; pfn++)
            {
                MachineToPhysical.Set(p2m[pfn], MachineToPhysical.Invalid);
                frames.Free(p2m[pfn] * PvLayout.PageSize);
            }
            frames.Free(domain.SharedInfoMachine);
            domain.PhysicalToMachine = null;
        }
    }
}

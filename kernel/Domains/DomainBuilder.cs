using System;
using Keel.Kernel.Arch.X64;
using Keel.Kernel.Boot;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Kernel.Paging;
using Keel.Kernel.Time;
using System.Runtime.InteropServices;
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

        internal static string TryBuild(Domain domain, ReadOnlySpan<byte> file, ReadOnlySpan<byte> ramdisk, ulong pages, string commandLine, FrameAllocator frames)
        {
            XenElfError elfError = XenElfImage.TryParse(file, out XenElfImage image);
            if (elfError == XenElfError.None) elfError = image.CheckRequiredFeatures(Hypercalls.XenVersion.OfferedFeatures(domain.Privileged));
            if (elfError != XenElfError.None) return XenElfImage.Describe(elfError);
            PvLayoutError layoutError = PvLayout.TryCreate(image.VirtBase, image.ImageStart, image.ImageEnd, (ulong)ramdisk.Length, pages, out PvLayout layout);
            if (layoutError == PvLayoutError.TooLittleMemory) return "the memory size is too small for the kernel and its initial mapping";
            if (layoutError != PvLayoutError.None) return "the kernel's initial mapping would fall outside the guest's part of the address space";
            if (frames.FreeFrames < pages + 1) return "not enough free memory";

            // Every page, and shared_info (Xen shares it with the guest as one of its frames), is the
            // domain's in the frame table, up to its quota.
            var paging = MachinePaging.Paging;
            MachinePaging.Frames.SetQuota(domain.Id, (uint)(pages + 1));
            ulong[] p2m = new ulong[pages];
            domain.PhysicalToMachine = p2m;
            for (ulong pfn = 0; pfn < pages; pfn++)
            {
                if (paging.AllocateFrame(domain.Id, out p2m[pfn]) != 0) return Abandon(domain, "not enough free memory");
                MachineToPhysical.Set(p2m[pfn], pfn);
            }
            // The kernel writes shared_info for the domain's whole life (Xen keeps it on its own heap).
            if (paging.AllocateSharedFrame(domain.Id, out ulong sharedInfo) != 0) return Abandon(domain, "not enough free memory");
            domain.SharedInfoMachine = sharedInfo * PvLayout.PageSize;
            string services = ConnectServices(domain, p2m[layout.ConsolePfn], p2m[layout.StorePfn]);
            if (services != null) return Abandon(domain, services);

            LoadSegments(image, file, layout, p2m);
            LoadRamdisk(ramdisk, layout, p2m);
            WriteP2mList(layout, p2m);
            WriteStartInfo(domain, layout, p2m, pages, (ulong)ramdisk.Length, commandLine);
            if (image.HasHypercallPage) HypercallPage.Fill(Page(p2m, (image.HypercallPage - layout.VirtBase) / PvLayout.PageSize));
            GuestClock.PublishWallClock(domain);
            GuestClock.Publish(domain.Vcpu);
            // Every vcpu_info starts with events masked (Xen's builder: evtchn_upcall_mask = 1).
            for (int v = 0; v < SharedInfoLayout.MaxVcpus; v++) DirectMap.Pointer(domain.SharedInfoMachine)[v * SharedInfoLayout.VcpuInfoBytes + SharedInfoLayout.UpcallMask] = 1;

            // The builder writes the tables unchecked; pinning the L4 then validates all of them, as for any
            // table a guest offers, and NEW_BASEPTR makes it the vCPU's.
            WritePageTables(domain, layout, p2m);
            long pinned = paging.PinTable(domain.Id, p2m[layout.TablesPfn], PageType.L4);
            if (pinned != 0) return Abandon(domain, "the initial page tables were refused by direct paging");
            TlbFlush flush = default;
            if (paging.NewBasePointer(domain.Id, ref domain.Vcpu.Tables, p2m[layout.TablesPfn], ref flush) != 0)
            {
                return Abandon(domain, "the initial L4 could not become the vCPU's table");
            }

            fixed (GuestContext* context = &domain.Vcpu.Context)
            {
                GuestContext.InitialiseForGuest(context, image.Entry, layout.VirtualAddress(layout.StackPfn + 1), layout.VirtualAddress(layout.StartInfoPfn));
            }
            return null;
        }

        /// <summary>
        /// What libxc and the toolstack give every domain but the control domain before it runs: a grant table
        /// of one frame whose reserved entries 0 and 1 grant the console and store pages to the control domain
        /// (GNTTAB_RESERVED_CONSOLE and _XENSTORE), and an unbound port for each offered to the control domain,
        /// which serves both (xenconsoled and xenstored live there). The control domain serves itself and gets
        /// neither port.
        /// </summary>
        private static string ConnectServices(Domain domain, ulong consoleMfn, ulong storeMfn)
        {
            var grants = Grants.MachineGrants.Tables;
            if (grants.Grow(domain.Id, 1) != GrantStatus.Okay) return "not enough free memory for the grant table";
            domain.ConsoleFrame = consoleMfn;
            domain.StoreFrame = storeMfn;
            if (domain.Privileged) return null;
            grants.Seed(domain.Id, GrantEntry.ReservedConsole, DomainIds.ControlDomain, consoleMfn);
            grants.Seed(domain.Id, GrantEntry.ReservedStore, DomainIds.ControlDomain, storeMfn);
            var channels = Events.MachineEvents.Channels;
            if (channels.AllocUnbound(domain.Id, DomainIds.ControlDomain, out domain.ConsolePort) != 0 ||
                channels.AllocUnbound(domain.Id, DomainIds.ControlDomain, out domain.StorePort) != 0) return "no event channel for the console or the store";
            return null;
        }

        /// <summary>Gives back what a build that failed half-way took, and says why it failed.</summary>
        private static string Abandon(Domain domain, string why)
        {
            Reclaim(domain);
            return why;
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

        private static void LoadRamdisk(ReadOnlySpan<byte> ramdisk, in PvLayout layout, ulong[] p2m)
        {
            for (int done = 0; done < ramdisk.Length; done += (int)PvLayout.PageSize)
            {
                int chunk = Math.Min(ramdisk.Length - done, (int)PvLayout.PageSize);
                ramdisk.Slice(done, chunk).CopyTo(Page(p2m, layout.RamdiskPfn + (ulong)done / PvLayout.PageSize));
            }
        }

        private static void WriteP2mList(in PvLayout layout, ulong[] p2m)
        {
            for (ulong pfn = 0; pfn < (ulong)p2m.Length; pfn++)
            {
                Table(p2m, layout.P2mPfn + pfn / 512)[(int)(pfn % 512)] = p2m[pfn];
            }
        }

        private static void WriteStartInfo(Domain domain, in PvLayout layout, ulong[] p2m, ulong pages, ulong ramdiskLength, string commandLine)
        {
            StartInfo* info = (StartInfo*)DirectMap.Pointer(p2m[layout.StartInfoPfn] * PvLayout.PageSize);
            const string Magic = "xen-3.0-x86_64";
            for (int i = 0; i < Magic.Length; i++) info->Magic[i] = (byte)Magic[i];
            info->NrPages = pages;
            info->SharedInfo = domain.SharedInfoMachine;
            info->Flags = domain.Privileged ? (uint)(StartInfo.Privileged | StartInfo.InitialDomain) : 0;
            info->StoreMfn = p2m[layout.StorePfn];
            info->StoreEvtchn = (uint)domain.StorePort;
            info->ConsoleMfn = p2m[layout.ConsolePfn];
            info->ConsoleEvtchn = (uint)domain.ConsolePort;
            info->PtBase = layout.VirtualAddress(layout.TablesPfn);
            info->NrPtFrames = layout.TableFrames;
            info->MfnList = layout.VirtualAddress(layout.P2mPfn);
            // The ramdisk by virtual address (no SIF_MOD_START_PFN), as Xen gives it.
            info->ModStart = layout.RamdiskPages == 0 ? 0 : layout.VirtualAddress(layout.RamdiskPfn);
            info->ModLen = ramdiskLength;
            int length = Math.Min(commandLine.Length, StartInfo.CommandLineBytes - 1);
            for (int i = 0; i < length; i++) info->CmdLine[i] = (byte)commandLine[i];
        }

        /// <summary>
        /// The initial tables, in their pfns: the L4, then the L3s, L2s and L1s for [virt_base, MappedEnd), each
        /// level's tables in address order. Every page of the range is mapped writable except the tables'
        /// own frames, which direct paging never lets a guest map writable. The hypervisor's L4 slots are
        /// filled by direct paging when the L4 is pinned.
        /// </summary>
        private static void WritePageTables(Domain domain, in PvLayout layout, ulong[] p2m)
        {
            var paging = MachinePaging.Paging;
            ulong l3First = layout.TablesPfn + 1, l2First = l3First + layout.L3Tables, l1First = l2First + layout.L2Tables;
            ulong start = layout.VirtBase;
            for (ulong va = start; va != layout.MappedEnd; va += PvLayout.PageSize)
            {
                ulong pfn = (va - start) / PvLayout.PageSize;
                ulong l3 = l3First + ((va >> 39) - (start >> 39)), l2 = l2First + ((va >> 30) - (start >> 30)), l1 = l1First + ((va >> 21) - (start >> 21));
                paging.WriteInitialEntry(domain.Id, p2m[layout.TablesPfn], (int)((va >> 39) & 511), p2m[l3] * PvLayout.PageSize | TableFlags);
                paging.WriteInitialEntry(domain.Id, p2m[l3], (int)((va >> 30) & 511), p2m[l2] * PvLayout.PageSize | TableFlags);
                paging.WriteInitialEntry(domain.Id, p2m[l2], (int)((va >> 21) & 511), p2m[l1] * PvLayout.PageSize | TableFlags);
                paging.WriteInitialEntry(domain.Id, p2m[l1], (int)((va >> 12) & 511), p2m[pfn] * PvLayout.PageSize | (layout.IsPageTable(pfn) ? ReadOnlyLeafFlags : LeafFlags));
            }
        }

        /// <summary>
        /// Takes back a domain that has ended (or whose build failed): its tables are unpinned and demoted and
        /// its frames released; each returns to the allocator once nothing references it. Returns how many
        /// are still referenced from elsewhere.
        /// </summary>
        internal static uint Reclaim(Domain domain)
        {
            ulong[] p2m = domain.PhysicalToMachine;
            if (p2m != null)
            {
                for (int pfn = 0; pfn < p2m.Length; pfn++)
                {
                    if (p2m[pfn] != 0 && MachinePaging.Frames.OwnerOf(p2m[pfn]) == domain.Id) MachineToPhysical.Set(p2m[pfn], MachineToPhysical.Invalid);
                }
            }
            domain.PhysicalToMachine = null;
            // Grants first: the mappings this domain holds of others' frames are undone (Xen's
            // gnttab_release_mappings), and the kernel lets go of its table and shared_info, which are then
            // freed with the rest unless another domain still maps them.
            TlbFlush flush = default;
            Grants.MachineGrants.Tables.ReleaseMappings(domain.Id, ref flush);
            Grants.MachineGrants.Tables.RemoveDomain(domain.Id, ref flush);
            if (domain.SharedInfoMachine != 0)
            {
                MachinePaging.Paging.ReleaseSharedFrame(domain.SharedInfoMachine / PvLayout.PageSize, ref flush);
                domain.SharedInfoMachine = 0;
            }
            uint held = MachinePaging.Paging.DestroyDomain(domain.Id, MemoryMarshal.CreateSpan(ref domain.Vcpu.Tables, 1), ref flush);
            domain.Vcpu.Tables = default;
            return held;
        }
    }
}

using System;
using System.Buffers.Binary;

namespace Keel.Kernel.Boot
{
    /// <summary>Why a PV64 guest kernel image was refused. <see cref="XenElfImage.Describe"/> gives each
    /// one as a sentence for console reports.</summary>
    public enum XenElfError
    {
        /// <summary>The image is acceptable.</summary>
        None,

        /// <summary>The file is shorter than an ELF64 header (64 bytes).</summary>
        TooShort,

        /// <summary>The file does not start with the ELF magic 0x7F 'E' 'L' 'F'.</summary>
        NotElf,

        /// <summary>e_ident[EI_CLASS] is not ELFCLASS64.</summary>
        NotElf64,

        /// <summary>e_ident[EI_DATA] is not ELFDATA2LSB.</summary>
        NotLittleEndian,

        /// <summary>e_machine is not EM_X86_64.</summary>
        NotX86_64,

        /// <summary>e_type is neither ET_EXEC nor ET_DYN, so the file is not a loadable image.</summary>
        NotExecutable,

        /// <summary>e_phentsize is not the size of an Elf64_Phdr (56 bytes).</summary>
        BadProgramHeaderSize,

        /// <summary>e_phnum is above <see cref="XenElfImage.MaxProgramHeaders"/>.</summary>
        TooManyProgramHeaders,

        /// <summary>The program header table (e_phoff, e_phnum entries) does not lie inside the file.</summary>
        ProgramHeadersOutOfFile,

        /// <summary>The section header table (e_shoff, e_shnum entries of e_shentsize) does not lie inside
        /// the file; libelf's elf_init refuses such a file too.</summary>
        SectionHeadersOutOfFile,

        /// <summary>A PT_NOTE segment's file bytes (p_offset, p_filesz) do not lie inside the file.</summary>
        NoteSegmentOutOfFile,

        /// <summary>A note's name or descriptor runs past the end of its PT_NOTE segment.</summary>
        MalformedNote,

        /// <summary>The PT_NOTE segments hold more than <see cref="XenElfImage.MaxNotes"/> notes.</summary>
        TooManyNotes,

        /// <summary>A numeric Xen note has a size its type does not allow.</summary>
        BadNumericNote,

        /// <summary>A string Xen note has no terminating NUL inside its descriptor.</summary>
        UnterminatedStringNote,

        /// <summary>A string Xen note is longer than <see cref="XenElfImage.MaxNoteStringBytes"/>.</summary>
        StringNoteTooLong,

        /// <summary>The FEATURES note requires ('!') a feature name that features.h does not define.</summary>
        UnknownRequiredFeature,

        /// <summary>No PT_NOTE segment holds a note named "Xen".</summary>
        NoXenNotes,

        /// <summary>LOADER does not start with "generic" and GUEST_OS does not start with "linux".</summary>
        NotForGenericLoader,

        /// <summary>XEN_VERSION is missing or does not start with "xen-3.0".</summary>
        UnsupportedXenVersion,

        /// <summary>PADDR_OFFSET is given without VIRT_BASE.</summary>
        PaddrOffsetWithoutVirtBase,

        /// <summary>VIRT_BASE is not a multiple of the page size.</summary>
        VirtBaseMisaligned,

        /// <summary>A PT_LOAD segment's file bytes (p_offset, p_filesz) do not lie inside the file.</summary>
        SegmentOutOfFile,

        /// <summary>A PT_LOAD segment has p_filesz greater than p_memsz.</summary>
        SegmentFileLargerThanMemory,

        /// <summary>A PT_LOAD segment's end, rounded up to a page, wraps past the top of the address space.</summary>
        SegmentAddressOverflow,

        /// <summary>A PT_LOAD segment does not lie within one canonical half of the address space.</summary>
        SegmentNotCanonical,

        /// <summary>Two PT_LOAD segments share a byte of memory.</summary>
        SegmentsOverlap,

        /// <summary>There is no PT_LOAD segment with any of PF_R, PF_W, PF_X.</summary>
        NoLoadableSegment,

        /// <summary>VIRT_BASE lies above the start of the loaded image.</summary>
        VirtBaseAboveImage,

        /// <summary>The image, counted from VIRT_BASE to its page-rounded end, spans more than
        /// <see cref="XenElfImage.MaxImageBytes"/>.</summary>
        ImageTooLarge,

        /// <summary>The entry point (ENTRY, or e_entry without it) is outside the loaded segments.</summary>
        EntryOutsideImage,

        /// <summary>HYPERCALL_PAGE is not a multiple of the page size.</summary>
        HypercallPageMisaligned,

        /// <summary>HYPERCALL_PAGE is outside the loaded image.</summary>
        HypercallPageOutsideImage,

        /// <summary>INIT_P2M lies inside the loaded segments.</summary>
        InitP2mInsideImage,

        /// <summary>The kernel requires a feature the caller does not offer
        /// (<see cref="XenElfImage.CheckRequiredFeatures"/>).</summary>
        RequiredFeatureNotOffered,

        /// <summary>The destination given to <see cref="XenElfImage.CopyInto"/> is not exactly
        /// ImageEnd - ImageStart bytes.</summary>
        DestinationWrongSize,
    }

    /// <summary>Segment permissions, the p_flags bits of the ELF specification (PF_X, PF_W, PF_R).</summary>
    [Flags]
    public enum XenElfSegmentFlags : uint
    {
        None = 0,
        Execute = 1,
        Write = 2,
        Read = 4,
    }

    /// <summary>A PT_LOAD segment, placed where Xen's libelf places it.</summary>
    public readonly struct XenElfSegment
    {
        /// <summary>The guest virtual address of the segment's first byte: p_paddr + VIRT_BASE - PADDR_OFFSET
        /// (libelf-dominfo.c, elf_xen_addr_calc_check; libelf-loader.c, elf_load_binary). p_vaddr is not
        /// used, as in libelf: Linux's per-CPU segment has p_vaddr 0 but a proper p_paddr.</summary>
        public ulong VirtualAddress { get; }

        /// <summary>Where the segment's bytes start in the file (p_offset).</summary>
        public ulong FileOffset { get; }

        /// <summary>How many bytes come from the file (p_filesz).</summary>
        public ulong FileBytes { get; }

        /// <summary>How many bytes the segment occupies in memory (p_memsz); the part past FileBytes is zeroed.</summary>
        public ulong MemoryBytes { get; }

        /// <summary>The segment's permissions (p_flags).</summary>
        public XenElfSegmentFlags Flags { get; }

        /// <summary>The guest virtual address just past the segment's last byte.</summary>
        public ulong End => VirtualAddress + MemoryBytes;

        public XenElfSegment(ulong virtualAddress, ulong fileOffset, ulong fileBytes, ulong memoryBytes, XenElfSegmentFlags flags)
        {
            VirtualAddress = virtualAddress;
            FileOffset = fileOffset;
            FileBytes = fileBytes;
            MemoryBytes = memoryBytes;
            Flags = flags;
        }
    }

    /// <summary>Feature numbers of xen/include/public/features.h (XENFEAT_*); FEATURES notes name them
    /// without the prefix.</summary>
    public enum XenFeature
    {
        WritablePageTables = 0,
        WritableDescriptorTables = 1,
        AutoTranslatedPhysmap = 2,
        SupervisorModeKernel = 3,
        PaePgdirAbove4Gb = 4,
        MmuPtUpdatePreserveAd = 5,
        HighmemAssist = 6,
        GnttabMapAvailBits = 7,
        HvmCallbackVector = 8,
        HvmSafePvclock = 9,
        HvmPirqs = 10,
        Dom0 = 11,
        GrantMapIdentity = 12,
        MemoryOpVnodeSupported = 13,
        ArmSmcccSupported = 14,
        LinuxRsdpUnrestricted = 15,
        NotDirectMapped = 16,
        DirectMapped = 17,
        RunstatePhysArea = 18,
        VcpuTimePhysArea = 19,
        DmMsixAllWrites = 20,
    }

    /// <summary>What the kernel says of each Xen feature: bit n stands for <see cref="XenFeature"/> n.
    /// A required feature is also supported (libelf-dominfo.c, elf_xen_parse_features).</summary>
    public readonly struct XenFeatureSet
    {
        /// <summary>Features numbered 0 to Count - 1 have names.</summary>
        public const int Count = 21;

        /// <summary>Features the kernel can use: named in FEATURES, with or without '!', or set in the
        /// SUPPORTED_FEATURES bitmap.</summary>
        public uint Supported { get; }

        /// <summary>Features the kernel cannot run without: named with '!' in FEATURES.</summary>
        public uint Required { get; }

        public XenFeatureSet(uint supported, uint required)
        {
            Supported = supported | required;
            Required = required;
        }

        public bool Supports(XenFeature feature) => (Supported & Bit(feature)) != 0;

        public bool Requires(XenFeature feature) => (Required & Bit(feature)) != 0;

        public static uint Bit(XenFeature feature) => 1u << (int)feature;

        /// <summary>The name a FEATURES note uses for the feature (features.h without "XENFEAT_").</summary>
        public static string Name(XenFeature feature) => feature switch
        {
            XenFeature.WritablePageTables => "writable_page_tables",
            XenFeature.WritableDescriptorTables => "writable_descriptor_tables",
            XenFeature.AutoTranslatedPhysmap => "auto_translated_physmap",
            XenFeature.SupervisorModeKernel => "supervisor_mode_kernel",
            XenFeature.PaePgdirAbove4Gb => "pae_pgdir_above_4gb",
            XenFeature.MmuPtUpdatePreserveAd => "mmu_pt_update_preserve_ad",
            XenFeature.HighmemAssist => "highmem_assist",
            XenFeature.GnttabMapAvailBits => "gnttab_map_avail_bits",
            XenFeature.HvmCallbackVector => "hvm_callback_vector",
            XenFeature.HvmSafePvclock => "hvm_safe_pvclock",
            XenFeature.HvmPirqs => "hvm_pirqs",
            XenFeature.Dom0 => "dom0",
            XenFeature.GrantMapIdentity => "grant_map_identity",
            XenFeature.MemoryOpVnodeSupported => "memory_op_vnode_supported",
            XenFeature.ArmSmcccSupported => "ARM_SMCCC_supported",
            XenFeature.LinuxRsdpUnrestricted => "linux_rsdp_unrestricted",
            XenFeature.NotDirectMapped => "not_direct_mapped",
            XenFeature.DirectMapped => "direct_mapped",
            XenFeature.RunstatePhysArea => "runstate_phys_area",
            XenFeature.VcpuTimePhysArea => "vcpu_time_phys_area",
            XenFeature.DmMsixAllWrites => "dm_msix_all_writes",
            _ => "",
        };
    }

    /// <summary>
    /// A PV64 guest kernel: an x86-64 ELF file whose PT_NOTE segments carry notes named "Xen"
    /// (xen/include/public/elfnote.h), read the way Xen's libelf reads them (xen/common/libelf/libelf-dominfo.c,
    /// libelf-loader.c) and checked for the domain builder.
    ///
    /// Every field of the file is an allegation. TryParse checks the headers, every note and every PT_LOAD
    /// segment against the file and against each other, and refuses with one <see cref="XenElfError"/>
    /// instead of reading outside the file or throwing. An accepted image satisfies, for every segment:
    /// its file bytes lie inside the file, FileBytes &lt;= MemoryBytes, it lies inside [ImageStart, ImageEnd)
    /// and shares no byte with another segment; VirtBase &lt;= ImageStart, the span from VirtBase to ImageEnd
    /// is at most <see cref="MaxImageBytes"/>, and the entry point lies inside a loaded range.
    ///
    /// Where the guest's memory goes (libelf-dominfo.c, elf_xen_addr_calc_check): VIRT_BASE defaults to 0;
    /// PADDR_OFFSET defaults to 0 (the legacy __xen_guest section, which made it default to VIRT_BASE, is
    /// not read); a segment's bytes go to virtual address p_paddr + VIRT_BASE - PADDR_OFFSET; the domain
    /// maps virtual address VA to pseudo-physical address VA - VIRT_BASE (tools/libs/guest/xg_dom_core.c).
    ///
    /// Stricter than libelf, each because the looser reading would let a malformed file load as something
    /// other than what it claims: numeric notes of sizes other than 1, 2, 4 or 8 bytes, strings without a
    /// NUL inside their descriptor, notes running past their segment, segments out of the file or
    /// overlapping, and an entry point outside every segment are refused where libelf reads zero, reads
    /// on, or copies anyway. SHT_NOTE sections and the __xen_guest section, libelf's fall-backs when no PT_NOTE
    /// holds Xen notes, are not read. Looser than libxc in one place: a first segment that does not start a
    /// page, which xc_dom_alloc_pad refuses, is accepted with ImageStart rounded down to the page.
    /// </summary>
    public sealed class XenElfImage
    {
        public const ulong PageSize = 4096;

        /// <summary>The most memory an image may span from VIRT_BASE: enough for any PV kernel (Linux and
        /// GRUB need a few tens of MiB), small enough that a hostile header cannot make the domain builder
        /// allocate without bound.</summary>
        public const ulong MaxImageBytes = 1UL << 30;

        /// <summary>The most program headers read; kernels have fewer than ten. Bounds the pairwise overlap
        /// check.</summary>
        public const int MaxProgramHeaders = 128;

        /// <summary>The most notes read over all PT_NOTE segments (libelf.h, ELF_MAX_TOTAL_NOTE_COUNT).</summary>
        public const int MaxNotes = 65536;

        /// <summary>The longest string note accepted, NUL excluded (libelf.h, ELF_MAX_STRING_LENGTH).</summary>
        public const int MaxNoteStringBytes = 4096;

        // ELF-64 object file format: header and program header sizes and the values checked.
        private const int HeaderBytes = 64, ProgramHeaderBytes = 56, NoteHeaderBytes = 12;
        private const byte ElfClass64 = 2, ElfDataLittleEndian = 1;
        private const ushort TypeExecutable = 2, TypeShared = 3, MachineX86_64 = 62;
        private const uint SegmentLoad = 1, SegmentNote = 4;

        // The highest end a segment may have and still round up to a page without wrapping.
        private const ulong HighestEnd = ~(PageSize - 1);

        // Note types (elfnote.h) this reader uses; the others are skipped, as libelf skips unknown ones.
        private const uint NoteEntry = 1, NoteHypercallPage = 2, NoteVirtBase = 3, NotePaddrOffset = 4,
            NoteXenVersion = 5, NoteGuestOs = 6, NoteGuestVersion = 7, NoteLoader = 8, NotePaeMode = 9,
            NoteFeatures = 10, NoteInitP2m = 15, NoteModStartPfn = 16, NoteSupportedFeatures = 17;

        /// <summary>The virtual address execution starts at: the ENTRY note, or e_entry without it.</summary>
        public ulong Entry { get; private set; }

        /// <summary>The virtual address of the page Xen fills with hypercall stubs (HYPERCALL_PAGE); 0 when
        /// <see cref="HasHypercallPage"/> is false.</summary>
        public ulong HypercallPage { get; private set; }

        public bool HasHypercallPage { get; private set; }

        /// <summary>The virtual address of pseudo-physical address 0 (VIRT_BASE; 0 when absent).</summary>
        public ulong VirtBase { get; private set; }

        /// <summary>What p_paddr exceeds the pseudo-physical address by (PADDR_OFFSET; 0 when absent).</summary>
        public ulong PaddrOffset { get; private set; }

        /// <summary>Where the kernel wants its initial p2m list mapped (INIT_P2M); 0 when
        /// <see cref="HasInitP2m"/> is false. xg_dom_core.c honours it only below VIRT_BASE and page-aligned.</summary>
        public ulong InitP2m { get; private set; }

        public bool HasInitP2m { get; private set; }

        /// <summary>The kernel accepts a ramdisk that is not in its initial mapping (MOD_START_PFN non-zero).</summary>
        public bool UnmappedInitrd { get; private set; }

        /// <summary>String notes, "" when absent.</summary>
        public string GuestOs { get; private set; } = "";
        public string GuestVersion { get; private set; } = "";
        public string XenVersion { get; private set; } = "";
        public string Loader { get; private set; } = "";
        public string PaeMode { get; private set; } = "";

        /// <summary>The FEATURES note as written ('|'-separated names, '!' marking a required one).</summary>
        public string Features { get; private set; } = "";

        /// <summary>FEATURES and SUPPORTED_FEATURES decoded.</summary>
        public XenFeatureSet FeatureSet { get; private set; }

        /// <summary>Names in FEATURES that features.h does not define, '|'-separated; they were not required
        /// (an unknown required name refuses the image).</summary>
        public string UnknownFeatures { get; private set; } = "";

        /// <summary>The lowest segment address rounded down to a page.</summary>
        public ulong ImageStart { get; private set; }

        /// <summary>The highest segment end rounded up to a page.</summary>
        public ulong ImageEnd { get; private set; }

        /// <summary>The PT_LOAD segments with any permission, in program header order. Read-only, so that
        /// what <see cref="CopyInto"/> relies on stays as TryParse checked it.</summary>
        public ReadOnlySpan<XenElfSegment> Segments => _segments;

        /// <summary>The bytes <see cref="CopyInto"/> fills.</summary>
        public ulong ImageBytes => ImageEnd - ImageStart;

        private XenElfSegment[] _segments = new XenElfSegment[0];
        private ulong _headerEntry;
        private bool _hasEntry, _hasVirtBase, _hasPaddrOffset;
        private uint _supported, _required;
        private int _xenNotes;

        private XenElfImage()
        {
        }

        /// <summary>Reads and checks a guest kernel file; on refusal, image is null.</summary>
        public static XenElfError TryParse(ReadOnlySpan<byte> file, out XenElfImage image)
        {
            var parsed = new XenElfImage();
            XenElfError error = parsed.Parse(file);
            image = error == XenElfError.None ? parsed : null;
            return error;
        }

        /// <summary>The pseudo-physical address of a virtual address of the image: VA - VIRT_BASE
        /// (xg_dom_core.c, xc_dom_vaddr_to_ptr). Below <see cref="MaxImageBytes"/> for every address in
        /// [ImageStart, ImageEnd).</summary>
        public ulong PseudoPhysicalAddress(ulong virtualAddress) => virtualAddress - VirtBase;

        /// <summary>Whether every feature the kernel requires is in offered (a bitmap over
        /// <see cref="XenFeature"/>). libxc refuses a domU whose kernel requires dom0 (xg_dom_elfloader.c);
        /// Xen refuses a dom0 that requires supervisor_mode_kernel (arch/x86/pv/dom0_build.c).</summary>
        public XenElfError CheckRequiredFeatures(uint offered) =>
            (FeatureSet.Required & ~offered) == 0 ? XenElfError.None : XenElfError.RequiredFeatureNotOffered;

        /// <summary>
        /// Lays the image out in image, which must be exactly <see cref="ImageBytes"/> long and stands for
        /// virtual addresses [ImageStart, ImageEnd): every byte is zeroed, then each segment's file bytes are
        /// copied to VirtualAddress - ImageStart, leaving its bss and the gaps zero. file must be the file
        /// that was parsed; its length is checked again so that no read can leave it.
        /// </summary>
        public XenElfError CopyInto(ReadOnlySpan<byte> file, Span<byte> image)
        {
            if ((ulong)image.Length != ImageBytes) return XenElfError.DestinationWrongSize;
            for (int i = 0; i < _segments.Length; i++)
            {
                if (!Within(file, _segments[i].FileOffset, _segments[i].FileBytes)) return XenElfError.SegmentOutOfFile;
            }
            image.Clear();
            for (int i = 0; i < _segments.Length; i++)
            {
                XenElfSegment segment = _segments[i];
                file.Slice((int)segment.FileOffset, (int)segment.FileBytes)
                    .CopyTo(image.Slice((int)(segment.VirtualAddress - ImageStart), (int)segment.FileBytes));
            }
            return XenElfError.None;
        }

        /// <summary>A sentence for a console report.</summary>
        public static string Describe(XenElfError error) => error switch
        {
            XenElfError.None => "the image is acceptable",
            XenElfError.TooShort => "the file is shorter than an ELF64 header",
            XenElfError.NotElf => "the file is not an ELF file",
            XenElfError.NotElf64 => "the ELF file is not 64-bit",
            XenElfError.NotLittleEndian => "the ELF file is not little-endian",
            XenElfError.NotX86_64 => "the ELF file is not for x86-64",
            XenElfError.NotExecutable => "the ELF file is neither an executable nor a shared object",
            XenElfError.BadProgramHeaderSize => "the program header entry size is not 56 bytes",
            XenElfError.TooManyProgramHeaders => "the ELF file has too many program headers",
            XenElfError.ProgramHeadersOutOfFile => "the program header table extends past the end of the file",
            XenElfError.SectionHeadersOutOfFile => "the section header table extends past the end of the file",
            XenElfError.NoteSegmentOutOfFile => "a note segment extends past the end of the file",
            XenElfError.MalformedNote => "a note extends past the end of its note segment",
            XenElfError.TooManyNotes => "the note segments hold too many notes",
            XenElfError.BadNumericNote => "a numeric Xen note has a size its type does not allow",
            XenElfError.UnterminatedStringNote => "a string Xen note is not NUL-terminated",
            XenElfError.StringNoteTooLong => "a string Xen note is longer than 4096 bytes",
            XenElfError.UnknownRequiredFeature => "the kernel requires a Xen feature that has no definition",
            XenElfError.NoXenNotes => "the file has no Xen notes in a note segment, so it is not a Xen guest kernel",
            XenElfError.NotForGenericLoader => "the kernel is built neither for the generic loader nor as Linux",
            XenElfError.UnsupportedXenVersion => "the kernel is not built for the xen-3.0 interface",
            XenElfError.PaddrOffsetWithoutVirtBase => "PADDR_OFFSET is given without VIRT_BASE",
            XenElfError.VirtBaseMisaligned => "VIRT_BASE is not page-aligned",
            XenElfError.SegmentOutOfFile => "a loadable segment extends past the end of the file",
            XenElfError.SegmentFileLargerThanMemory => "a loadable segment has more file bytes than memory bytes",
            XenElfError.SegmentAddressOverflow => "a loadable segment wraps past the top of the address space",
            XenElfError.SegmentNotCanonical => "a loadable segment is not at a canonical address",
            XenElfError.SegmentsOverlap => "two loadable segments overlap",
            XenElfError.NoLoadableSegment => "the file has no loadable segment",
            XenElfError.VirtBaseAboveImage => "VIRT_BASE lies above the start of the image",
            XenElfError.ImageTooLarge => "the image spans more than 1 GiB from VIRT_BASE",
            XenElfError.EntryOutsideImage => "the entry point is outside the loaded image",
            XenElfError.HypercallPageMisaligned => "the hypercall page is not page-aligned",
            XenElfError.HypercallPageOutsideImage => "the hypercall page is outside the image",
            XenElfError.InitP2mInsideImage => "INIT_P2M lies inside the loaded image",
            XenElfError.RequiredFeatureNotOffered => "the kernel requires a Xen feature this domain is not offered",
            XenElfError.DestinationWrongSize => "the destination is not the size of the image",
            _ => "unknown error",
        };

        private XenElfError Parse(ReadOnlySpan<byte> file)
        {
            XenElfError error = CheckHeader(file);
            if (error != XenElfError.None) return error;
            ulong programHeaders = BinaryPrimitives.ReadUInt64LittleEndian(file.Slice(32));
            int count = BinaryPrimitives.ReadUInt16LittleEndian(file.Slice(56));
            _headerEntry = BinaryPrimitives.ReadUInt64LittleEndian(file.Slice(24));

            error = ReadNoteSegments(file, programHeaders, count);
            if (error != XenElfError.None) return error;
            error = CheckNotes();
            if (error != XenElfError.None) return error;
            error = ReadLoadSegments(file, programHeaders, count);
            if (error != XenElfError.None) return error;
            return CheckLayout();
        }

        // ELF-64 header (ELF specification, "ELF Header"): e_ident at 0, e_type 16, e_machine 18, e_entry 24,
        // e_phoff 32, e_shoff 40, e_phentsize 54, e_phnum 56, e_shentsize 58, e_shnum 60.
        private static XenElfError CheckHeader(ReadOnlySpan<byte> file)
        {
            if (file.Length < HeaderBytes) return XenElfError.TooShort;
            if (file[0] != 0x7F || file[1] != (byte)'E' || file[2] != (byte)'L' || file[3] != (byte)'F') return XenElfError.NotElf;
            if (file[4] != ElfClass64) return XenElfError.NotElf64;
            if (file[5] != ElfDataLittleEndian) return XenElfError.NotLittleEndian;
            if (BinaryPrimitives.ReadUInt16LittleEndian(file.Slice(18)) != MachineX86_64) return XenElfError.NotX86_64;
            // Xen checks no e_type; ET_DYN is accepted as Xen does, loaded at its stated addresses without
            // relocation. Relocatable objects and core files are no images at all.
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(file.Slice(16));
            if (type != TypeExecutable && type != TypeShared) return XenElfError.NotExecutable;

            int entrySize = BinaryPrimitives.ReadUInt16LittleEndian(file.Slice(54));
            int count = BinaryPrimitives.ReadUInt16LittleEndian(file.Slice(56));
            if (count > MaxProgramHeaders) return XenElfError.TooManyProgramHeaders;
            if (count != 0 && entrySize != ProgramHeaderBytes) return XenElfError.BadProgramHeaderSize;
            ulong programHeaders = BinaryPrimitives.ReadUInt64LittleEndian(file.Slice(32));
            if (!Within(file, programHeaders, (ulong)count * ProgramHeaderBytes)) return XenElfError.ProgramHeadersOutOfFile;

            // libelf-loader.c, elf_init: the section header table must lie inside the file even though a
            // loader with PT_NOTE does not read it.
            ulong sectionHeaders = BinaryPrimitives.ReadUInt64LittleEndian(file.Slice(40));
            ulong sectionBytes = (ulong)BinaryPrimitives.ReadUInt16LittleEndian(file.Slice(58)) * BinaryPrimitives.ReadUInt16LittleEndian(file.Slice(60));
            if (!Within(file, sectionHeaders, sectionBytes)) return XenElfError.SectionHeadersOutOfFile;
            return XenElfError.None;
        }

        // Program header (ELF specification, "Program Header"): p_type at 0, p_flags 4, p_offset 8,
        // p_vaddr 16, p_paddr 24, p_filesz 32, p_memsz 40, p_align 48.
        private static ReadOnlySpan<byte> ProgramHeader(ReadOnlySpan<byte> file, ulong table, int index) =>
            file.Slice((int)table + index * ProgramHeaderBytes, ProgramHeaderBytes);

        private XenElfError ReadNoteSegments(ReadOnlySpan<byte> file, ulong table, int count)
        {
            int notes = 0;
            for (int i = 0; i < count; i++)
            {
                ReadOnlySpan<byte> header = ProgramHeader(file, table, i);
                if (BinaryPrimitives.ReadUInt32LittleEndian(header) != SegmentNote) continue;
                ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(header.Slice(8));
                ulong size = BinaryPrimitives.ReadUInt64LittleEndian(header.Slice(32));
                // libelf-dominfo.c, elf_xen_parse: some binutils leave p_offset 0 in note segments; such a
                // segment would point at the ELF header, so it is skipped.
                if (offset == 0) continue;
                if (!Within(file, offset, size)) return XenElfError.NoteSegmentOutOfFile;
                XenElfError error = ReadNotes(file.Slice((int)offset, (int)size), ref notes);
                if (error != XenElfError.None) return error;
            }
            return XenElfError.None;
        }

        // A note (ELF specification, "Note Section"): u32 namesz, u32 descsz, u32 type, the name padded to
        // 4 bytes, the descriptor padded to 4 bytes. The last note's padding may be missing, and fewer than
        // 12 trailing bytes (padding between merged note sections) hold no note.
        private XenElfError ReadNotes(ReadOnlySpan<byte> notes, ref int count)
        {
            ulong length = (ulong)notes.Length;
            ulong at = 0;
            while (length - at >= NoteHeaderBytes)
            {
                if (++count > MaxNotes) return XenElfError.TooManyNotes;
                ReadOnlySpan<byte> header = notes.Slice((int)at, NoteHeaderBytes);
                ulong nameBytes = BinaryPrimitives.ReadUInt32LittleEndian(header);
                ulong descBytes = BinaryPrimitives.ReadUInt32LittleEndian(header.Slice(4));
                uint type = BinaryPrimitives.ReadUInt32LittleEndian(header.Slice(8));
                ulong nameStart = at + NoteHeaderBytes;
                if (nameBytes > length - nameStart) return XenElfError.MalformedNote;
                ulong descStart = nameStart + Align4(nameBytes);
                if (descStart > length || descBytes > length - descStart) return XenElfError.MalformedNote;

                if (IsXenName(notes.Slice((int)nameStart, (int)nameBytes)))
                {
                    _xenNotes++;
                    XenElfError error = ReadXenNote(type, notes.Slice((int)descStart, (int)descBytes));
                    if (error != XenElfError.None) return error;
                }
                at = descStart + Align4(descBytes);
                if (at >= length) break;
            }
            return XenElfError.None;
        }

        private static ulong Align4(ulong value) => (value + 3) & ~3UL;

        // libelf compares the NUL-terminated name with "Xen"; a name without NUL ends at namesz.
        private static bool IsXenName(ReadOnlySpan<byte> name)
        {
            int length = 0;
            while (length < name.Length && name[length] != 0) length++;
            return length == 3 && name[0] == (byte)'X' && name[1] == (byte)'e' && name[2] == (byte)'n';
        }

        // Later notes of a type override earlier ones, as in libelf-dominfo.c, elf_xen_parse_note.
        private XenElfError ReadXenNote(uint type, ReadOnlySpan<byte> desc)
        {
            switch (type)
            {
                case NoteEntry:
                case NoteHypercallPage:
                case NoteVirtBase:
                case NotePaddrOffset:
                case NoteInitP2m:
                case NoteModStartPfn:
                    if (!ReadNumber(desc, out ulong number)) return XenElfError.BadNumericNote;
                    SetNumber(type, number);
                    return XenElfError.None;
                case NoteXenVersion:
                case NoteGuestOs:
                case NoteGuestVersion:
                case NoteLoader:
                case NotePaeMode:
                    XenElfError error = ReadString(desc, out string text);
                    if (error != XenElfError.None) return error;
                    SetString(type, text);
                    return XenElfError.None;
                case NoteFeatures:
                    return ReadFeatures(desc);
                case NoteSupportedFeatures:
                    // elfnote.h: a bitmap of u32 words over features.h's numbers; Xen defines one word
                    // (XENFEAT_NR_SUBMAPS) and reads only the first.
                    if (desc.Length == 0 || desc.Length % 4 != 0) return XenElfError.BadNumericNote;
                    _supported |= BinaryPrimitives.ReadUInt32LittleEndian(desc);
                    FeatureSet = new XenFeatureSet(_supported, _required);
                    return XenElfError.None;
                default:
                    return XenElfError.None;
            }
        }

        private void SetNumber(uint type, ulong number)
        {
            switch (type)
            {
                case NoteEntry: Entry = number; _hasEntry = true; break;
                case NoteHypercallPage: HypercallPage = number; HasHypercallPage = true; break;
                case NoteVirtBase: VirtBase = number; _hasVirtBase = true; break;
                case NotePaddrOffset: PaddrOffset = number; _hasPaddrOffset = true; break;
                case NoteInitP2m: InitP2m = number; HasInitP2m = true; break;
                case NoteModStartPfn: UnmappedInitrd = number != 0; break;
            }
        }

        private void SetString(uint type, string text)
        {
            switch (type)
            {
                case NoteXenVersion: XenVersion = text; break;
                case NoteGuestOs: GuestOs = text; break;
                case NoteGuestVersion: GuestVersion = text; break;
                case NoteLoader: Loader = text; break;
                case NotePaeMode: PaeMode = text; break;
            }
        }

        // libelf-tools.c, elf_note_numeric: 1, 2, 4 or 8 bytes, zero-extended. libelf reads any other
        // size as 0; here it refuses the image, so that a truncated ENTRY cannot become address 0.
        private static bool ReadNumber(ReadOnlySpan<byte> desc, out ulong value)
        {
            switch (desc.Length)
            {
                case 1: value = desc[0]; return true;
                case 2: value = BinaryPrimitives.ReadUInt16LittleEndian(desc); return true;
                case 4: value = BinaryPrimitives.ReadUInt32LittleEndian(desc); return true;
                case 8: value = BinaryPrimitives.ReadUInt64LittleEndian(desc); return true;
                default: value = 0; return false;
            }
        }

        // elfnote.h: strings are NUL-terminated ASCII. The NUL must be inside the descriptor.
        private static XenElfError ReadString(ReadOnlySpan<byte> desc, out string text)
        {
            text = "";
            int length = StringLength(desc);
            if (length < 0) return desc.Length > MaxNoteStringBytes ? XenElfError.StringNoteTooLong : XenElfError.UnterminatedStringNote;
            Span<char> chars = length <= 256 ? stackalloc char[length] : new char[length];
            for (int i = 0; i < length; i++) chars[i] = (char)desc[i];
            text = new string(chars);
            return XenElfError.None;
        }

        // The length before the first NUL, looked for among the first MaxNoteStringBytes + 1 bytes; -1 if
        // there is none there.
        private static int StringLength(ReadOnlySpan<byte> desc)
        {
            int limit = desc.Length < MaxNoteStringBytes + 1 ? desc.Length : MaxNoteStringBytes + 1;
            for (int i = 0; i < limit; i++)
            {
                if (desc[i] == 0) return i;
            }
            return -1;
        }

        // elfnote.h, XEN_ELFNOTE_FEATURES: names from features.h separated by '|', '!' before a required
        // one. As in libelf-dominfo.c, elf_xen_parse_features, a required name is also supported, an
        // unknown required name refuses the image, and several FEATURES notes add up. libelf's table has
        // only seven of features.h's names; here all are known, and whether a required one can be met is
        // left to CheckRequiredFeatures.
        private XenElfError ReadFeatures(ReadOnlySpan<byte> desc)
        {
            XenElfError error = ReadString(desc, out string text);
            if (error != XenElfError.None) return error;
            Features = text;
            ReadOnlySpan<byte> list = desc.Slice(0, text.Length);
            int start = 0;
            for (int i = 0; i <= list.Length; i++)
            {
                if (i < list.Length && list[i] != (byte)'|') continue;
                ReadOnlySpan<byte> token = list.Slice(start, i - start);
                start = i + 1;
                if (token.Length == 0) continue;
                bool required = token[0] == (byte)'!';
                ReadOnlySpan<byte> name = required ? token.Slice(1) : token;
                int feature = FeatureNumber(name);
                if (feature < 0)
                {
                    if (required) return XenElfError.UnknownRequiredFeature;
                    UnknownFeatures = UnknownFeatures.Length == 0 ? Latin1(name) : string.Concat(UnknownFeatures, "|", Latin1(name));
                    continue;
                }
                _supported |= 1u << feature;
                if (required) _required |= 1u << feature;
            }
            FeatureSet = new XenFeatureSet(_supported, _required);
            return XenElfError.None;
        }

        private static int FeatureNumber(ReadOnlySpan<byte> name)
        {
            for (int feature = 0; feature < XenFeatureSet.Count; feature++)
            {
                string known = XenFeatureSet.Name((XenFeature)feature);
                if (known.Length != name.Length) continue;
                int i = 0;
                while (i < name.Length && name[i] == known[i]) i++;
                if (i == name.Length) return feature;
            }
            return -1;
        }

        private static string Latin1(ReadOnlySpan<byte> bytes)
        {
            Span<char> chars = bytes.Length <= 256 ? stackalloc char[bytes.Length] : new char[bytes.Length];
            for (int i = 0; i < bytes.Length; i++) chars[i] = (char)bytes[i];
            return new string(chars);
        }

        // libelf-dominfo.c, elf_xen_note_check and elf_xen_addr_calc_check, in their order.
        private XenElfError CheckNotes()
        {
            if (_xenNotes == 0) return XenElfError.NoXenNotes;
            if (!Loader.StartsWith("generic") && !GuestOs.StartsWith("linux")) return XenElfError.NotForGenericLoader;
            if (!XenVersion.StartsWith("xen-3.0")) return XenElfError.UnsupportedXenVersion;
            if (_hasPaddrOffset && !_hasVirtBase) return XenElfError.PaddrOffsetWithoutVirtBase;
            // Pseudo-physical frames are counted from VIRT_BASE (xg_dom_core.c), so it must start a page.
            if ((VirtBase & (PageSize - 1)) != 0) return XenElfError.VirtBaseMisaligned;
            if (!_hasEntry) Entry = _headerEntry;
            return XenElfError.None;
        }

        private XenElfError ReadLoadSegments(ReadOnlySpan<byte> file, ulong table, int count)
        {
            int loadable = 0;
            for (int i = 0; i < count; i++)
            {
                if (IsLoadable(ProgramHeader(file, table, i))) loadable++;
            }
            if (loadable == 0) return XenElfError.NoLoadableSegment;

            // uint64 arithmetic that wraps, as libelf's: a wrapped address is caught by the checks below.
            ulong displacement = VirtBase - PaddrOffset;
            var segments = new XenElfSegment[loadable];
            int next = 0;
            for (int i = 0; i < count; i++)
            {
                ReadOnlySpan<byte> header = ProgramHeader(file, table, i);
                if (!IsLoadable(header)) continue;
                uint flags = BinaryPrimitives.ReadUInt32LittleEndian(header.Slice(4));
                ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(header.Slice(8));
                ulong start = BinaryPrimitives.ReadUInt64LittleEndian(header.Slice(24)) + displacement;
                ulong fileBytes = BinaryPrimitives.ReadUInt64LittleEndian(header.Slice(32));
                ulong memoryBytes = BinaryPrimitives.ReadUInt64LittleEndian(header.Slice(40));
                if (!Within(file, offset, fileBytes)) return XenElfError.SegmentOutOfFile;
                if (fileBytes > memoryBytes) return XenElfError.SegmentFileLargerThanMemory;
                if (start > HighestEnd || memoryBytes > HighestEnd - start) return XenElfError.SegmentAddressOverflow;
                if (!IsCanonicalRange(start, memoryBytes)) return XenElfError.SegmentNotCanonical;
                segments[next++] = new XenElfSegment(start, offset, fileBytes, memoryBytes, (XenElfSegmentFlags)(flags & 7));
            }
            for (int i = 0; i < segments.Length; i++)
            {
                for (int j = i + 1; j < segments.Length; j++)
                {
                    if (segments[i].VirtualAddress < segments[j].End && segments[j].VirtualAddress < segments[i].End)
                    {
                        return XenElfError.SegmentsOverlap;
                    }
                }
            }
            _segments = segments;
            return XenElfError.None;
        }

        // libelf-tools.c, elf_phdr_is_loadable: PT_LOAD with at least one of PF_R, PF_W, PF_X.
        private static bool IsLoadable(ReadOnlySpan<byte> header) =>
            BinaryPrimitives.ReadUInt32LittleEndian(header) == SegmentLoad && (BinaryPrimitives.ReadUInt32LittleEndian(header.Slice(4)) & 7) != 0;

        // Canonical addresses are the two ranges with bits 63-47 all equal (Intel SDM vol. 1, 3.3.7.1);
        // a range is canonical when its first and last byte are, in the same half.
        private static bool IsCanonicalRange(ulong start, ulong bytes)
        {
            if (!IsCanonical(start)) return false;
            if (bytes == 0) return true;
            ulong last = start + bytes - 1;
            return IsCanonical(last) && (start >> 63) == (last >> 63);
        }

        private static bool IsCanonical(ulong address) => (ulong)((long)(address << 16) >> 16) == address;

        private XenElfError CheckLayout()
        {
            ulong low = ulong.MaxValue, high = 0;
            for (int i = 0; i < _segments.Length; i++)
            {
                if (_segments[i].VirtualAddress < low) low = _segments[i].VirtualAddress;
                if (_segments[i].End > high) high = _segments[i].End;
            }
            ImageStart = low & ~(PageSize - 1);
            ImageEnd = (high + PageSize - 1) & ~(PageSize - 1);
            // libelf-dominfo.c, elf_xen_addr_calc_check: virt_base <= virt_kstart.
            if (VirtBase > ImageStart) return XenElfError.VirtBaseAboveImage;
            if (ImageEnd - VirtBase > MaxImageBytes) return XenElfError.ImageTooLarge;
            if (!InsideSegment(Entry)) return XenElfError.EntryOutsideImage;
            if (HasHypercallPage)
            {
                if ((HypercallPage & (PageSize - 1)) != 0) return XenElfError.HypercallPageMisaligned;
                if (HypercallPage < ImageStart || HypercallPage >= ImageEnd) return XenElfError.HypercallPageOutsideImage;
            }
            // libelf-dominfo.c: the p2m list must not be placed over the kernel.
            if (HasInitP2m && InitP2m >= low && InitP2m < high) return XenElfError.InitP2mInsideImage;
            return XenElfError.None;
        }

        private bool InsideSegment(ulong address)
        {
            for (int i = 0; i < _segments.Length; i++)
            {
                if (address >= _segments[i].VirtualAddress && address < _segments[i].End) return true;
            }
            return false;
        }

        private static bool Within(ReadOnlySpan<byte> file, ulong offset, ulong bytes) =>
            offset <= (ulong)file.Length && bytes <= (ulong)file.Length - offset;
    }
}

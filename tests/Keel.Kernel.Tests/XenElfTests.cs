using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using FsCheck;
using FsCheck.Fluent;
using Keel.Kernel.Boot;
using static Keel.Kernel.Tests.XenElfBuilder;

namespace Keel.Kernel.Tests;

public class XenElfTests
{
    private const ulong LinuxBase = 0xFFFF_FFFF_8000_0000;
    private const ulong Text = 0x100_0000, Data = 0x100_3000;

    // Program header indexes in a built file: the PT_NOTE segment is first.
    private const int FirstLoad = 1;

    private static byte[] Fill(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>A PV kernel laid out as Linux lays out vmlinux: linked at VIRT_BASE + physical address,
    /// text, then data followed by bss.</summary>
    private static XenElfBuilder LinuxLike() => new XenElfBuilder()
        .GenericNotes()
        .String(GuestVersion, "1.0")
        .Number(VirtBase, LinuxBase)
        .Number(PaddrOffset, 0)
        .Number(Entry, LinuxBase + Text + 0x10)
        .Number(HypercallPage, LinuxBase + Text + 0x1000)
        .String(Features, "!writable_page_tables|pae_pgdir_above_4gb")
        .String(PaeMode, "yes")
        .Load(Text, Fill(0x3000, 1), 0x3000, PfR | PfX, LinuxBase + Text, padding: 0x100)
        .Load(Data, Fill(0x800, 2), 0x2000, PfR | PfW, LinuxBase + Data);

    private static XenElfError Parse(byte[] file) => XenElfImage.TryParse(file, out _);

    private static XenElfImage Accept(byte[] file)
    {
        Assert.Equal(XenElfError.None, XenElfImage.TryParse(file, out var image));
        return image!;
    }

    private static byte[] Patched(byte[] file, int offset, ulong value, int size = 8)
    {
        var copy = (byte[])file.Clone();
        XenElfBuilder.NumberBytes(value, size).CopyTo(copy, offset);
        return copy;
    }

    private static int LoadHeader(int load) => ProgramHeaderOffset(FirstLoad + load);

    // ---- What an acceptable image yields ----

    [Fact]
    public void A_Linux_like_kernel_yields_its_notes_entry_and_segments()
    {
        var image = Accept(LinuxLike().Build());
        Assert.Equal(LinuxBase + Text + 0x10, image.Entry);
        Assert.True(image.HasHypercallPage);
        Assert.Equal(LinuxBase + Text + 0x1000, image.HypercallPage);
        Assert.Equal(LinuxBase, image.VirtBase);
        Assert.Equal(0UL, image.PaddrOffset);
        Assert.Equal(("Keel test", "1.0", "xen-3.0", "generic", "yes"), (image.GuestOs, image.GuestVersion, image.XenVersion, image.Loader, image.PaeMode));
        Assert.Equal("!writable_page_tables|pae_pgdir_above_4gb", image.Features);
        Assert.Equal(LinuxBase + Text, image.ImageStart);
        Assert.Equal(LinuxBase + Data + 0x2000, image.ImageEnd);
        Assert.Equal(2, image.Segments.Length);
        Assert.Equal(XenElfSegmentFlags.Read | XenElfSegmentFlags.Execute, image.Segments[0].Flags);
        Assert.Equal((0x800UL, 0x2000UL), (image.Segments[1].FileBytes, image.Segments[1].MemoryBytes));
        Assert.Equal(Text, image.PseudoPhysicalAddress(image.ImageStart));
    }

    [Fact]
    public void Without_an_ENTRY_note_the_entry_point_is_e_entry()
    {
        var builder = new XenElfBuilder { HeaderEntry = 0x2345 }.GenericNotes().Load(0x2000, Fill(0x800, 3), 0x800);
        Assert.Equal(0x2345UL, Accept(builder.Build()).Entry);
    }

    [Fact]
    public void Without_VIRT_BASE_and_PADDR_OFFSET_both_are_zero_and_a_segment_lands_at_its_physical_address()
    {
        var image = Accept(new XenElfBuilder { HeaderEntry = 0x2000 }.GenericNotes().Load(0x2000, Fill(16, 4), 16).Build());
        Assert.Equal((0UL, 0UL), (image.VirtBase, image.PaddrOffset));
        Assert.Equal(0x2000UL, image.Segments[0].VirtualAddress);
        Assert.False(image.HasHypercallPage);
        Assert.Equal(0UL, image.HypercallPage);
    }

    [Fact]
    public void A_segment_is_placed_by_its_physical_address_plus_VIRT_BASE_minus_PADDR_OFFSET_not_by_its_p_vaddr()
    {
        // Linux's per-CPU segment has p_vaddr 0 and a proper p_paddr; libelf uses p_paddr only.
        var percpu = new XenElfBuilder { HeaderEntry = LinuxBase + 0x10_0000 }.GenericNotes().Number(VirtBase, LinuxBase)
            .Load(0x10_0000, Fill(0x1000, 5), 0x1000, virtualAddress: 0).Build();
        Assert.Equal(LinuxBase + 0x10_0000, Accept(percpu).Segments[0].VirtualAddress);

        // Old kernels wrote __PAGE_OFFSET into p_paddr and said so with PADDR_OFFSET = VIRT_BASE.
        var legacy = new XenElfBuilder { HeaderEntry = LinuxBase + 0x10_0000 }.GenericNotes()
            .Number(VirtBase, LinuxBase).Number(PaddrOffset, LinuxBase)
            .Load(LinuxBase + 0x10_0000, Fill(0x1000, 6), 0x1000).Build();
        var image = Accept(legacy);
        Assert.Equal(LinuxBase + 0x10_0000, image.Segments[0].VirtualAddress);
        Assert.Equal(0x10_0000UL, image.PseudoPhysicalAddress(image.Segments[0].VirtualAddress));
    }

    [Fact]
    public void A_kernel_shaped_like_GRUB_for_Xen_loads_at_address_zero_from_entry_zero_with_its_second_segment_right_after_the_first_ones_bss()
    {
        // GRUB-FOR-XEN.md, section 1: VIRT_BASE 0 and ENTRY 0 as notes, no HYPERCALL_PAGE; the modules
        // segment follows the bss at an address (and a file offset) that starts no page.
        var grub = new XenElfBuilder().GenericNotes("GRUB").Number(Entry, 0).Number(VirtBase, 0)
            .Load(0, Fill(0xeaf, 11), 0x41f0)
            .Load(0x41f0, Fill(0x1198, 12), 0x1198, padding: 0x1f).Build();
        var image = Accept(grub);
        Assert.Equal((0UL, 0UL, 0UL), (image.Entry, image.VirtBase, image.PaddrOffset));
        Assert.False(image.HasHypercallPage);
        Assert.Equal(image.Segments[0].End, image.Segments[1].VirtualAddress);
        Assert.NotEqual(0UL, image.Segments[1].FileOffset % XenElfImage.PageSize);
        Assert.Equal((0UL, 0x6000UL), (image.ImageStart, image.ImageEnd));
        Assert.Equal(0x41f0UL, image.PseudoPhysicalAddress(image.Segments[1].VirtualAddress));
        Assert.True(CopiesExactly(grub, image));
    }

    [Fact]
    public void Numeric_notes_of_one_two_four_or_eight_bytes_are_read_zero_extended()
    {
        foreach (int size in new[] { 1, 2, 4, 8 })
        {
            var file = new XenElfBuilder().GenericNotes().Number(Entry, 0x80, size).Load(0, Fill(0x100, 7), 0x100).Build();
            Assert.Equal(0x80UL, Accept(file).Entry);
        }
    }

    [Fact]
    public void An_ELF_shared_object_is_accepted_as_Xen_accepts_it()
    {
        var builder = LinuxLike();
        builder.ElfType = 3;
        Accept(builder.Build());
    }

    [Fact]
    public void Features_record_supported_required_and_unknown_names_and_the_numeric_bitmap_adds_to_them()
    {
        var file = new XenElfBuilder().GenericNotes()
            .String(Features, "writable_descriptor_tables|!dom0||no_such_feature|auto_translated_physmap")
            .Note(SupportedFeatures, NumberBytes(XenFeatureSet.Bit(XenFeature.HvmCallbackVector), 4))
            .Load(0, Fill(0x100, 8), 0x100).Build();
        var image = Accept(file);
        var set = image.FeatureSet;
        Assert.True(set.Supports(XenFeature.WritableDescriptorTables) && !set.Requires(XenFeature.WritableDescriptorTables));
        Assert.True(set.Supports(XenFeature.Dom0) && set.Requires(XenFeature.Dom0));
        Assert.True(set.Supports(XenFeature.AutoTranslatedPhysmap));
        Assert.True(set.Supports(XenFeature.HvmCallbackVector) && !set.Requires(XenFeature.HvmCallbackVector));
        Assert.False(set.Supports(XenFeature.WritablePageTables));
        Assert.Equal("no_such_feature", image.UnknownFeatures);
        Assert.Equal(XenFeatureSet.Bit(XenFeature.Dom0), set.Required);
    }

    [Fact]
    public void Every_feature_name_of_features_h_is_known()
    {
        for (int feature = 0; feature < XenFeatureSet.Count; feature++)
        {
            string name = XenFeatureSet.Name((XenFeature)feature);
            var file = new XenElfBuilder().GenericNotes().String(Features, "!" + name).Load(0, Fill(16, 9), 16).Build();
            Assert.Equal(1u << feature, Accept(file).FeatureSet.Required);
        }
    }

    [Fact]
    public void A_required_feature_the_caller_does_not_offer_is_refused_when_support_is_checked()
    {
        var image = Accept(new XenElfBuilder().GenericNotes().String(Features, "!dom0|writable_page_tables").Load(0, Fill(16, 10), 16).Build());
        Assert.Equal(XenElfError.RequiredFeatureNotOffered, image.CheckRequiredFeatures(0));
        Assert.Equal(XenElfError.None, image.CheckRequiredFeatures(XenFeatureSet.Bit(XenFeature.Dom0)));
    }

    [Fact]
    public void A_later_note_of_a_type_overrides_an_earlier_one()
    {
        var file = new XenElfBuilder().GenericNotes().Number(Entry, 0x10).Number(Entry, 0x20).Load(0, Fill(0x100, 11), 0x100).Build();
        Assert.Equal(0x20UL, Accept(file).Entry);
    }

    [Fact]
    public void Notes_of_other_owners_and_unknown_Xen_note_types_are_skipped()
    {
        var file = new XenElfBuilder()
            .Note(3, Fill(20, 12), name: "GNU")
            .Note(0x1234, Fill(3, 13))
            .Note(XenElfBuilder.VirtBase, NumberBytes(0x1000, 3), name: "Linux")
            .GenericNotes().Load(0, Fill(16, 14), 16).Build();
        Assert.Equal(0UL, Accept(file).VirtBase);
    }

    [Fact]
    public void A_last_note_without_its_padding_and_a_short_tail_after_the_notes_are_tolerated()
    {
        var lastUnpadded = new XenElfBuilder().GenericNotes().RawNotes(NoteBytes("Xen", GuestVersion, "ab\0"u8.ToArray())[..^1]);
        Accept(lastUnpadded.Load(0, Fill(16, 15), 16).Build());
        var tail = new XenElfBuilder().GenericNotes().RawNotes(new byte[8]);
        Accept(tail.Load(0, Fill(16, 16), 16).Build());
    }

    [Fact]
    public void A_note_segment_with_file_offset_zero_is_skipped_as_libelf_skips_it()
    {
        var file = LinuxLike().Build();
        Assert.Equal(XenElfError.NoXenNotes, Parse(Patched(file, ProgramHeaderOffset(0) + 8, 0)));
    }

    [Fact]
    public void A_PT_LOAD_without_permissions_is_not_loaded()
    {
        var file = LinuxLike().Add(new Segment(PtLoad, 0, 0x7000_0000, 0, Fill(16, 17), 16, 0)).Build();
        var image = Accept(file);
        Assert.Equal(2, image.Segments.Length);
        Assert.Equal(LinuxBase + Data + 0x2000, image.ImageEnd);
    }

    [Fact]
    public void Every_error_has_its_own_sentence()
    {
        var sentences = Enum.GetValues<XenElfError>().Select(XenElfImage.Describe).ToList();
        Assert.All(sentences, s => Assert.False(string.IsNullOrWhiteSpace(s) || s == "unknown error"));
        Assert.Equal(sentences.Count, sentences.Distinct().Count());
    }

    // ---- Refusals: the ELF header ----

    [Fact]
    public void A_file_shorter_than_an_ELF64_header_is_refused()
    {
        Assert.Equal(XenElfError.TooShort, Parse(LinuxLike().Build()[..63]));
        Assert.Equal(XenElfError.TooShort, Parse([]));
    }

    [Fact]
    public void A_file_without_the_ELF_magic_is_refused() =>
        Assert.Equal(XenElfError.NotElf, Parse(Patched(LinuxLike().Build(), 1, (byte)'e', 1)));

    [Fact]
    public void A_32_bit_ELF_file_is_refused() =>
        Assert.Equal(XenElfError.NotElf64, Parse(Patched(LinuxLike().Build(), 4, 1, 1)));

    [Fact]
    public void A_big_endian_ELF_file_is_refused() =>
        Assert.Equal(XenElfError.NotLittleEndian, Parse(Patched(LinuxLike().Build(), 5, 2, 1)));

    [Fact]
    public void An_ELF_file_for_another_machine_is_refused() =>
        Assert.Equal(XenElfError.NotX86_64, Parse(Patched(LinuxLike().Build(), 18, 3, 2)));

    [Fact]
    public void A_relocatable_object_or_core_file_is_refused()
    {
        Assert.Equal(XenElfError.NotExecutable, Parse(Patched(LinuxLike().Build(), 16, 1, 2)));
        Assert.Equal(XenElfError.NotExecutable, Parse(Patched(LinuxLike().Build(), 16, 4, 2)));
    }

    [Fact]
    public void A_program_header_entry_size_other_than_56_is_refused() =>
        Assert.Equal(XenElfError.BadProgramHeaderSize, Parse(Patched(LinuxLike().Build(), 54, 32, 2)));

    [Fact]
    public void More_program_headers_than_the_limit_are_refused() =>
        Assert.Equal(XenElfError.TooManyProgramHeaders, Parse(Patched(LinuxLike().Build(), 56, 0xFFFF, 2)));

    [Fact]
    public void A_program_header_table_past_the_end_of_the_file_is_refused()
    {
        var file = LinuxLike().Build();
        Assert.Equal(XenElfError.ProgramHeadersOutOfFile, Parse(Patched(file, 32, (ulong)(file.Length - 3 * ProgramHeaderBytes + 1))));
        Assert.Equal(XenElfError.ProgramHeadersOutOfFile, Parse(Patched(file, 32, ulong.MaxValue - 10)));
        var small = new XenElfBuilder().GenericNotes().Load(0, Fill(16, 32), 16).Build();
        Assert.Equal(XenElfError.ProgramHeadersOutOfFile, Parse(Patched(small, 56, XenElfImage.MaxProgramHeaders, 2)));
        Assert.NotEqual(XenElfError.ProgramHeadersOutOfFile, Parse(Patched(file, 32, (ulong)(file.Length - 3 * ProgramHeaderBytes))));
    }

    [Fact]
    public void A_section_header_table_past_the_end_of_the_file_is_refused()
    {
        var file = Patched(LinuxLike().Build(), 60, 1, 2);
        Assert.Equal(XenElfError.SectionHeadersOutOfFile, Parse(Patched(file, 40, (ulong)file.Length - 63)));
        Assert.Equal(XenElfError.SectionHeadersOutOfFile, Parse(Patched(file, 40, ulong.MaxValue)));
        Assert.Equal(XenElfError.None, Parse(Patched(file, 40, (ulong)file.Length - 64)));
    }

    // ---- Refusals: notes ----

    [Fact]
    public void A_note_segment_past_the_end_of_the_file_is_refused()
    {
        var file = LinuxLike().Build();
        Assert.Equal(XenElfError.NoteSegmentOutOfFile, Parse(Patched(file, ProgramHeaderOffset(0) + 32, (ulong)file.Length)));
        Assert.Equal(XenElfError.NoteSegmentOutOfFile, Parse(Patched(file, ProgramHeaderOffset(0) + 8, ulong.MaxValue)));
    }

    [Fact]
    public void A_note_whose_name_or_descriptor_runs_past_its_segment_is_refused()
    {
        int firstNote = HeaderBytes + 3 * ProgramHeaderBytes;
        var file = LinuxLike().Build();
        Assert.Equal(XenElfError.MalformedNote, Parse(Patched(file, firstNote, 0xFFFF_FFFF, 4)));
        Assert.Equal(XenElfError.MalformedNote, Parse(Patched(file, firstNote + 4, 0xFFFF_FFFF, 4)));
        Assert.Equal(XenElfError.MalformedNote, Parse(Patched(file, firstNote + 4, 0xFFFF_FFFD, 4)));
        var truncated = new XenElfBuilder().GenericNotes().RawNotes(NoteBytes("Xen", GuestVersion, "abcdef\0"u8.ToArray())[..^2]);
        Assert.Equal(XenElfError.MalformedNote, Parse(truncated.Load(0, Fill(16, 18), 16).Build()));
    }

    [Fact]
    public void More_notes_than_the_limit_are_refused()
    {
        var empty = new byte[12 * (XenElfImage.MaxNotes + 1)];
        var file = new XenElfBuilder().GenericNotes().RawNotes(empty).Load(0, Fill(16, 19), 16).Build();
        Assert.Equal(XenElfError.TooManyNotes, Parse(file));
    }

    [Fact]
    public void A_numeric_note_of_another_size_is_refused()
    {
        Assert.Equal(XenElfError.BadNumericNote, Parse(new XenElfBuilder().GenericNotes().Number(Entry, 0, 3).Load(0, Fill(16, 20), 16).Build()));
        Assert.Equal(XenElfError.BadNumericNote, Parse(new XenElfBuilder().GenericNotes().Note(Entry, []).Load(0, Fill(16, 20), 16).Build()));
        Assert.Equal(XenElfError.BadNumericNote, Parse(new XenElfBuilder().GenericNotes().Number(SupportedFeatures, 1, 3).Load(0, Fill(16, 20), 16).Build()));
    }

    [Fact]
    public void A_string_note_without_a_terminating_NUL_is_refused() =>
        Assert.Equal(XenElfError.UnterminatedStringNote,
            Parse(new XenElfBuilder().GenericNotes().Note(GuestVersion, "1.0"u8.ToArray()).Load(0, Fill(16, 21), 16).Build()));

    [Fact]
    public void A_string_note_longer_than_the_limit_is_refused()
    {
        var file = new XenElfBuilder().GenericNotes().String(GuestVersion, new string('v', XenElfImage.MaxNoteStringBytes + 1)).Load(0, Fill(16, 22), 16).Build();
        Assert.Equal(XenElfError.StringNoteTooLong, Parse(file));
        var longest = new XenElfBuilder().GenericNotes().String(GuestVersion, new string('v', XenElfImage.MaxNoteStringBytes)).Load(0, Fill(16, 22), 16).Build();
        Assert.Equal(XenElfImage.MaxNoteStringBytes, Accept(longest).GuestVersion.Length);
    }

    [Fact]
    public void A_required_feature_with_no_definition_is_refused()
    {
        Assert.Equal(XenElfError.UnknownRequiredFeature,
            Parse(new XenElfBuilder().GenericNotes().String(Features, "writable_page_tables|!no_such_feature").Load(0, Fill(16, 23), 16).Build()));
        Assert.Equal(XenElfError.UnknownRequiredFeature,
            Parse(new XenElfBuilder().GenericNotes().String(Features, "!").Load(0, Fill(16, 23), 16).Build()));
    }

    [Fact]
    public void A_file_without_Xen_notes_is_refused()
    {
        Assert.Equal(XenElfError.NoXenNotes, Parse(new XenElfBuilder().Load(0, Fill(16, 24), 16).Build()));
        Assert.Equal(XenElfError.NoXenNotes, Parse(new XenElfBuilder().Note(6, "GRUB\0"u8.ToArray(), name: "Xe").Load(0, Fill(16, 24), 16).Build()));
    }

    [Fact]
    public void A_kernel_for_neither_the_generic_loader_nor_Linux_is_refused()
    {
        var other = new XenElfBuilder().String(XenVersion, "xen-3.0").String(Loader, "elf").String(GuestOs, "Plan 9").Load(0, Fill(16, 25), 16);
        Assert.Equal(XenElfError.NotForGenericLoader, Parse(other.Build()));
        var linux = new XenElfBuilder().String(XenVersion, "xen-3.0").String(GuestOs, "linux").Load(0, Fill(16, 25), 16);
        Assert.Equal(XenElfError.None, Parse(linux.Build()));
    }

    [Fact]
    public void A_kernel_not_built_for_xen_3_0_is_refused()
    {
        Assert.Equal(XenElfError.UnsupportedXenVersion,
            Parse(new XenElfBuilder().String(Loader, "generic").String(XenVersion, "xen-2.0").Load(0, Fill(16, 26), 16).Build()));
        Assert.Equal(XenElfError.UnsupportedXenVersion,
            Parse(new XenElfBuilder().String(Loader, "generic").Load(0, Fill(16, 26), 16).Build()));
    }

    [Fact]
    public void PADDR_OFFSET_without_VIRT_BASE_is_refused() =>
        Assert.Equal(XenElfError.PaddrOffsetWithoutVirtBase,
            Parse(new XenElfBuilder().GenericNotes().Number(PaddrOffset, 0).Load(0, Fill(16, 27), 16).Build()));

    [Fact]
    public void A_VIRT_BASE_that_is_not_page_aligned_is_refused() =>
        Assert.Equal(XenElfError.VirtBaseMisaligned,
            Parse(new XenElfBuilder().GenericNotes().Number(VirtBase, 0x800).Load(0, Fill(16, 28), 16).Build()));

    // ---- Refusals: segments and layout ----

    [Fact]
    public void A_segment_past_the_end_of_the_file_is_refused()
    {
        var file = LinuxLike().Build();
        Assert.Equal(XenElfError.SegmentOutOfFile, Parse(Patched(file, LoadHeader(1) + 32, 0x801)));
        Assert.Equal(XenElfError.SegmentOutOfFile, Parse(Patched(file, LoadHeader(1) + 8, (ulong)file.Length - 0x7FF)));
        Assert.Equal(XenElfError.SegmentOutOfFile, Parse(Patched(file, LoadHeader(1) + 8, ulong.MaxValue)));
    }

    [Fact]
    public void A_segment_with_more_file_bytes_than_memory_bytes_is_refused() =>
        Assert.Equal(XenElfError.SegmentFileLargerThanMemory, Parse(Patched(LinuxLike().Build(), LoadHeader(1) + 40, 0x7FF)));

    [Fact]
    public void A_segment_whose_end_wraps_past_the_top_of_the_address_space_is_refused()
    {
        var file = LinuxLike().Build();
        Assert.Equal(XenElfError.SegmentAddressOverflow, Parse(Patched(file, LoadHeader(1) + 40, ulong.MaxValue)));
        Assert.Equal(XenElfError.SegmentAddressOverflow, Parse(Patched(file, LoadHeader(1) + 24, ulong.MaxValue - LinuxBase - 0xFFF)));
        Assert.Equal(XenElfError.SegmentAddressOverflow, Parse(Patched(file, LoadHeader(1) + 24, ulong.MaxValue - LinuxBase)));
    }

    [Fact]
    public void A_segment_outside_the_canonical_halves_is_refused()
    {
        var file = LinuxLike().Build();
        Assert.Equal(XenElfError.SegmentNotCanonical, Parse(Patched(file, LoadHeader(1) + 24, 0x7FFF_0000_0000_0000)));
        var acrossTheHole = new XenElfBuilder { HeaderEntry = 0x7FFF_FFFF_F000 }.GenericNotes().Load(0x7FFF_FFFF_F000, Fill(16, 29), 0x2000).Build();
        Assert.Equal(XenElfError.SegmentNotCanonical, Parse(acrossTheHole));
    }

    [Fact]
    public void Overlapping_segments_are_refused()
    {
        var file = LinuxLike().Build();
        Assert.Equal(XenElfError.SegmentsOverlap, Parse(Patched(file, LoadHeader(1) + 24, Data - 1)));
        Assert.Equal(XenElfError.SegmentsOverlap, Parse(Patched(file, LoadHeader(1) + 24, Text + 0x100)));
        Assert.Equal(XenElfError.None, Parse(Patched(file, LoadHeader(1) + 24, Data + 1)));
    }

    [Fact]
    public void A_file_without_a_loadable_segment_is_refused()
    {
        Assert.Equal(XenElfError.NoLoadableSegment, Parse(new XenElfBuilder().GenericNotes().Build()));
        var file = LinuxLike().Build();
        Assert.Equal(XenElfError.NoLoadableSegment, Parse(Patched(Patched(file, LoadHeader(0) + 4, 0, 4), LoadHeader(1), 6, 4)));
    }

    [Fact]
    public void A_VIRT_BASE_above_the_image_is_refused()
    {
        var file = new XenElfBuilder().GenericNotes().Number(VirtBase, LinuxBase).Number(PaddrOffset, 0x2000)
            .Load(0x1000, Fill(16, 30), 16).Build();
        Assert.Equal(XenElfError.VirtBaseAboveImage, Parse(file));
    }

    [Fact]
    public void An_image_spanning_more_than_the_limit_from_VIRT_BASE_is_refused()
    {
        var file = LinuxLike().Build();
        Assert.Equal(XenElfError.ImageTooLarge, Parse(Patched(file, LoadHeader(1) + 40, XenElfImage.MaxImageBytes)));
        Assert.Equal(XenElfError.ImageTooLarge, Parse(Patched(file, LoadHeader(1) + 24, XenElfImage.MaxImageBytes)));
        var largest = new XenElfBuilder().GenericNotes().Load(0, Fill(16, 31), XenElfImage.MaxImageBytes).Build();
        Assert.Equal(XenElfImage.MaxImageBytes, Accept(largest).ImageBytes);
    }

    [Fact]
    public void An_entry_point_outside_every_segment_is_refused()
    {
        var builder = LinuxLike().Number(Entry, LinuxBase + Data + 0x2000);
        Assert.Equal(XenElfError.EntryOutsideImage, Parse(builder.Build()));
        Assert.Equal(XenElfError.EntryOutsideImage, Parse(LinuxLike().Number(Entry, LinuxBase + Text - 1).Build()));
        Assert.Equal(XenElfError.None, Parse(LinuxLike().Number(Entry, LinuxBase + Data + 0x1FFF).Build()));
    }

    [Fact]
    public void A_hypercall_page_that_is_not_page_aligned_is_refused() =>
        Assert.Equal(XenElfError.HypercallPageMisaligned, Parse(LinuxLike().Number(HypercallPage, LinuxBase + Text + 0x1008).Build()));

    [Fact]
    public void A_hypercall_page_outside_the_image_is_refused()
    {
        Assert.Equal(XenElfError.HypercallPageOutsideImage, Parse(LinuxLike().Number(HypercallPage, LinuxBase + Data + 0x2000).Build()));
        Assert.Equal(XenElfError.HypercallPageOutsideImage, Parse(LinuxLike().Number(HypercallPage, 0).Build()));
    }

    [Fact]
    public void An_INIT_P2M_inside_the_image_is_refused()
    {
        Assert.Equal(XenElfError.InitP2mInsideImage, Parse(LinuxLike().Number(InitP2m, LinuxBase + Data).Build()));
        var outside = Accept(LinuxLike().Number(InitP2m, 0x80_0000_0000).Build());
        Assert.True(outside.HasInitP2m);
        Assert.Equal(0x80_0000_0000UL, outside.InitP2m);
    }

    // ---- Placing the image ----

    [Fact]
    public void CopyInto_places_file_bytes_at_their_offset_in_the_image_and_zeros_bss_and_gaps()
    {
        var builder = LinuxLike();
        var file = builder.Build();
        var image = Accept(file);
        var destination = Enumerable.Repeat((byte)0xCC, (int)image.ImageBytes).ToArray();
        Assert.Equal(XenElfError.None, image.CopyInto(file, destination));
        Assert.Equal(file.AsSpan(builder.DataOffsets[0], 0x3000).ToArray(), destination[..0x3000]);
        Assert.Equal(file.AsSpan(builder.DataOffsets[1], 0x800).ToArray(), destination[0x3000..0x3800]);
        Assert.All(destination[0x3800..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void CopyInto_refuses_a_destination_of_another_size_and_a_shorter_file()
    {
        var file = LinuxLike().Build();
        var image = Accept(file);
        Assert.Equal(XenElfError.DestinationWrongSize, image.CopyInto(file, new byte[image.ImageBytes - 1]));
        Assert.Equal(XenElfError.DestinationWrongSize, image.CopyInto(file, new byte[image.ImageBytes + 1]));
        Assert.Equal(XenElfError.SegmentOutOfFile, image.CopyInto(file.AsSpan(0, file.Length - 1), new byte[image.ImageBytes]));
    }

    // ---- Properties ----

    /// <summary>What every accepted image promises; CopyInto is run when the image is small enough.</summary>
    private static bool IsSelfConsistent(byte[] file, XenElfImage image)
    {
        const ulong Page = XenElfImage.PageSize;
        if (image.ImageStart % Page != 0 || image.ImageEnd % Page != 0 || image.ImageEnd < image.ImageStart) return false;
        if (image.VirtBase > image.ImageStart || image.ImageEnd - image.VirtBase > XenElfImage.MaxImageBytes) return false;
        if (image.Segments.Length == 0) return false;
        foreach (var s in image.Segments)
        {
            if (s.FileOffset > (ulong)file.Length || s.FileBytes > (ulong)file.Length - s.FileOffset) return false;
            if (s.FileBytes > s.MemoryBytes || s.End < s.VirtualAddress) return false;
            if (s.VirtualAddress < image.ImageStart || s.End > image.ImageEnd) return false;
        }
        for (int i = 0; i < image.Segments.Length; i++)
        {
            for (int j = i + 1; j < image.Segments.Length; j++)
            {
                var (a, b) = (image.Segments[i], image.Segments[j]);
                if (a.VirtualAddress < b.End && b.VirtualAddress < a.End) return false;
            }
        }
        if (!image.Segments.ToArray().Any(s => image.Entry >= s.VirtualAddress && image.Entry < s.End)) return false;
        if (image.HasHypercallPage && (image.HypercallPage % Page != 0 || image.HypercallPage < image.ImageStart || image.HypercallPage >= image.ImageEnd)) return false;
        return image.ImageBytes > 8 << 20 || CopiesExactly(file, image);
    }

    /// <summary>CopyInto a destination with guard bytes on both sides and garbage inside: every segment's
    /// file bytes land at their place, everything else inside is zero, and the guards are untouched.</summary>
    private static bool CopiesExactly(byte[] file, XenElfImage image)
    {
        const int Guard = 64;
        int size = (int)image.ImageBytes;
        var buffer = new byte[size + 2 * Guard];
        Array.Fill(buffer, (byte)0xA5);
        if (image.CopyInto(file, buffer.AsSpan(Guard, size)) != XenElfError.None) return false;
        if (buffer.AsSpan(0, Guard).ContainsAnyExcept((byte)0xA5) || buffer.AsSpan(Guard + size).ContainsAnyExcept((byte)0xA5)) return false;
        var expected = new byte[size];
        foreach (var s in image.Segments)
        {
            file.AsSpan((int)s.FileOffset, (int)s.FileBytes).CopyTo(expected.AsSpan((int)(s.VirtualAddress - image.ImageStart)));
        }
        return buffer.AsSpan(Guard, size).SequenceEqual(expected);
    }

    [FsCheck.Xunit.Property(MaxTest = 2000)]
    public bool Arbitrary_bytes_never_throw_and_are_refused_or_yield_a_self_consistent_image(byte[] garbage)
    {
        var error = XenElfImage.TryParse(garbage, out var image);
        return Enum.IsDefined(error) && (error != XenElfError.None ? image is null : IsSelfConsistent(garbage, image!));
    }

    [FsCheck.Xunit.Property(MaxTest = 2000)]
    public bool Arbitrary_bytes_behind_a_valid_ELF_header_never_throw_and_are_refused_or_self_consistent(byte[] garbage, byte programHeaders)
    {
        var file = new byte[64 + garbage.Length];
        LinuxLike().Build().AsSpan(0, 64).CopyTo(file);
        garbage.CopyTo(file, 64);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(56), (ushort)(programHeaders % 8));
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(60), 0);
        var error = XenElfImage.TryParse(file, out var image);
        return Enum.IsDefined(error) && (error != XenElfError.None || IsSelfConsistent(file, image!));
    }

    private sealed record SegmentShape(int Gap, int FileBytes, int BssBytes, int Padding, uint Flags);

    private sealed record Layout(ulong VirtBase, ulong Start, SegmentShape[] Shapes, int Seed)
    {
        public XenElfBuilder Builder()
        {
            var builder = new XenElfBuilder().GenericNotes().Number(XenElfBuilder.VirtBase, VirtBase)
                .Number(Entry, VirtBase + Start).Number(ModStartPfn, 1, 4);
            ulong at = Start;
            for (int i = 0; i < Shapes.Length; i++)
            {
                var shape = Shapes[i];
                at += (ulong)shape.Gap;
                builder.Load(at, Fill(shape.FileBytes, Seed + i), (ulong)(shape.FileBytes + shape.BssBytes), shape.Flags, padding: shape.Padding);
                at += (ulong)(shape.FileBytes + shape.BssBytes);
            }
            return builder;
        }
    }

    private static readonly Gen<SegmentShape> Shape =
        from gap in Gen.Frequency((1, Gen.Constant(0)), (3, Gen.Choose(0, 9000)))
        from fileBytes in Gen.Choose(0, 700)
        from bss in Gen.Frequency((1, Gen.Constant(0)), (2, Gen.Choose(0, 6000)))
        from padding in Gen.Choose(0, 13)
        from flags in Gen.Choose(1, 7)
        select new SegmentShape(gap, fileBytes, bss, padding, (uint)flags);

    // The first segment holds the entry point, so it has at least one byte in the file.
    private static readonly Gen<Layout> Layouts =
        from virtBase in Gen.Elements(0UL, 0x40_0000UL, LinuxBase, 0xFFFF_8000_0000_0000UL)
        from start in Gen.Choose(0, 0x20000)
        from first in Shape.Where(s => s.FileBytes > 0)
        from rest in Shape.ArrayOf().Select(a => a.Take(5).ToArray())
        from seed in Gen.Choose(0, 1 << 20)
        select new Layout(virtBase, (ulong)start, [first with { Gap = 0 }, .. rest], seed);

    [FsCheck.Xunit.Property(MaxTest = 300)]
    public Property CopyInto_places_every_segment_of_a_random_layout_exactly_zeros_the_rest_and_stays_inside_the_destination()
    {
        return Prop.ForAll(Layouts.ToArbitrary(), layout =>
        {
            var builder = layout.Builder();
            var file = builder.Build();
            if (XenElfImage.TryParse(file, out var image) != XenElfError.None) return false;
            if (image!.Segments.Length != layout.Shapes.Length) return false;
            for (int i = 0; i < image.Segments.Length; i++)
            {
                var s = image.Segments[i];
                if (s.FileOffset != (ulong)builder.DataOffsets[i] || s.VirtualAddress != layout.VirtBase + builder.Segments[i].PhysicalAddress) return false;
            }
            return image.UnmappedInitrd && CopiesExactly(file, image) && IsSelfConsistent(file, image);
        });
    }

    private static readonly ulong[] Interesting =
    [
        0, 1, 3, 4, 7, 8, 12, 56, 64, 0xFFF, 0x1000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000,
        XenElfImage.MaxImageBytes, 0x0000_8000_0000_0000, 0x7FFF_FFFF_FFFF_F000, 0x8000_0000_0000_0000,
        LinuxBase, ulong.MaxValue - 0xFFF, ulong.MaxValue - 1, ulong.MaxValue,
    ];

    // Program header fields get most of the attention, each written whole: they decide what is read and
    // where it goes. Other mutations land anywhere in the headers and notes.
    private static readonly Gen<(int Offset, ulong Value, int Size)> ProgramHeaderMutation =
        from index in Gen.Choose(0, 6)
        from field in Gen.Elements((0, 4), (4, 4), (8, 8), (24, 8), (32, 8), (40, 8))
        from value in Gen.Elements(Interesting)
        select (ProgramHeaderOffset(index) + field.Item1, value, field.Item2);

    private static readonly Gen<(int Offset, ulong Value, int Size)> AnyMutation =
        from offset in Gen.Choose(0, 1024)
        from value in Gen.OneOf(Gen.Elements(Interesting), Gen.Choose(-100, 100).Select(d => (ulong)(0x4000 + d)))
        from size in Gen.Elements(1, 2, 4, 8)
        select (offset & ~(size - 1), value, size);

    private static readonly Gen<(int Offset, ulong Value, int Size)> FieldMutation =
        Gen.Frequency((2, ProgramHeaderMutation), (1, AnyMutation));

    [FsCheck.Xunit.Property(MaxTest = 3000)]
    public Property Mutating_bytes_or_fields_of_a_valid_image_never_throws_and_is_refused_or_self_consistent()
    {
        var mutations = Gen.Zip(Layouts, FieldMutation.ArrayOf().Select(m => m.Take(4).ToArray()));
        return Prop.ForAll(mutations.ToArbitrary(), pair =>
        {
            var (layout, changes) = pair;
            var file = layout.Builder().Build();
            foreach (var (offset, value, size) in changes)
            {
                if (offset + size <= file.Length) NumberBytes(value, size).CopyTo(file, offset);
            }
            var error = XenElfImage.TryParse(file, out var image);
            return Enum.IsDefined(error) && (error != XenElfError.None || IsSelfConsistent(file, image!));
        });
    }

    [FsCheck.Xunit.Property(MaxTest = 2000)]
    public Property Corrupting_any_single_byte_of_a_valid_image_never_throws_and_is_refused_or_self_consistent()
    {
        var valid = LinuxLike().Build();
        // Mostly the headers and notes, where a byte changes meaning; sometimes anywhere.
        var position = Gen.Frequency((3, Gen.Choose(0, 511)), (1, Gen.Choose(0, valid.Length - 1)));
        var corruption = Gen.Zip(position, Gen.Choose(0, 255));
        return Prop.ForAll(corruption.ToArbitrary(), change =>
        {
            var file = (byte[])valid.Clone();
            file[change.Item1] = (byte)change.Item2;
            var error = XenElfImage.TryParse(file, out var image);
            return Enum.IsDefined(error) && (error != XenElfError.None || IsSelfConsistent(file, image!));
        });
    }

    // ---- A real guest: GRUB for Xen ----

    private const string GrubXen = "/usr/lib/grub/x86_64-xen";

    private static string Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} failed: {errors}");
        return output;
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, program)));

    /// <summary>readelf's view of the PT_LOAD segments: (offset, paddr, filesz, memsz).</summary>
    private static List<(ulong Offset, ulong Paddr, ulong FileBytes, ulong MemoryBytes)> ReadelfLoads(string path)
    {
        var loads = new List<(ulong, ulong, ulong, ulong)>();
        foreach (var line in Run("readelf", "-lW", path).Split('\n'))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 6 || fields[0] != "LOAD") continue;
            ulong Hex(string text) => ulong.Parse(text.AsSpan(2), NumberStyles.HexNumber);
            loads.Add((Hex(fields[1]), Hex(fields[3]), Hex(fields[4]), Hex(fields[5])));
        }
        return loads;
    }

    [Fact]
    public void A_GRUB_for_Xen_image_parses_with_the_notes_GRUB_declares_and_loads_as_readelf_describes_it()
    {
        Assert.SkipUnless(File.Exists(Path.Combine(GrubXen, "kernel.img")) && OnPath("grub-mkimage") && OnPath("readelf"),
            $"needs the Debian packages grub-xen-bin ({GrubXen}) and binutils; build.sh installs them");
        string directory = Directory.CreateTempSubdirectory("keel-xenelf-").FullName;
        try
        {
            string config = Path.Combine(directory, "embedded.cfg");
            File.WriteAllText(config, "echo hello\nhalt\n");
            string path = Path.Combine(directory, "pvgrub.elf");
            Run("grub-mkimage", "-O", "x86_64-xen", "-d", GrubXen, "-o", path, "-c", config, "-p", "(xen/xvda)/boot/grub",
                "normal", "echo", "ls", "cat", "halt", "minicmd");
            var file = File.ReadAllBytes(path);

            var image = Accept(file);
            // util/grub-mkimagexx.c writes GUEST_OS, LOADER, XEN_VERSION, ENTRY and VIRT_BASE, nothing else.
            Assert.Equal(("GRUB", "generic", "xen-3.0"), (image.GuestOs, image.Loader, image.XenVersion));
            Assert.Equal((0UL, 0UL, 0UL), (image.Entry, image.VirtBase, image.PaddrOffset));
            Assert.False(image.HasHypercallPage);
            Assert.Equal("", image.Features);
            Assert.Equal(0u, image.FeatureSet.Required);

            var loads = ReadelfLoads(path);
            Assert.Equal(loads.Count, image.Segments.Length);
            for (int i = 0; i < loads.Count; i++)
            {
                var s = image.Segments[i];
                Assert.Equal(loads[i], (s.FileOffset, s.VirtualAddress, s.FileBytes, s.MemoryBytes));
            }
            // The modules segment starts right after the first segment's bss, not on a page boundary.
            Assert.Equal(2, image.Segments.Length);
            Assert.Equal(image.Segments[0].End, image.Segments[1].VirtualAddress);
            Assert.NotEqual(0UL, image.Segments[1].VirtualAddress % XenElfImage.PageSize);
            Assert.Equal(0UL, image.ImageStart);
            Assert.True(CopiesExactly(file, image));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

using FsCheck;
using FsCheck.Fluent;
using Keel.Kernel.Boot;

namespace Keel.Kernel.Tests;

public class Multiboot2Tests
{
    private static byte[] TypicalGrubInfo() => new Multiboot2InfoBuilder()
        .String(1, "keel.fault=page quiet")
        .String(2, "GRUB 2.06")
        .Module(0x118000, 0x120545, "symbols")
        .Module(0x121000, 0x122000, "manifest")
        .MemoryMap(
            (0x0, 0x9FC00, 1),
            (0x9FC00, 0x400, 2),
            (0xF0000, 0x10000, 2),
            (0x100000, 0xFEE0000, 1),
            (0xFFFC0000, 0x40000, 2))
        .Build();

    [Fact]
    public void A_typical_GRUB_structure_yields_the_command_line_loader_modules_and_memory_map()
    {
        Assert.Equal(Multiboot2Error.None, Multiboot2Info.Parse(TypicalGrubInfo(), out var info));
        Assert.Equal("keel.fault=page quiet", info.CommandLine);
        Assert.Equal("GRUB 2.06", info.LoaderName);
        Assert.Equal(2, info.Modules.Length);
        Assert.Equal("symbols", info.Modules[0].Name);
        Assert.Equal(0x118000UL, info.Modules[0].Start);
        Assert.Equal(0x120545UL, info.Modules[0].End);
        Assert.Equal(5, info.Regions.Length);
        Assert.Equal(2, info.UsableRegionCount);
        Assert.Equal(0x9FC00UL + 0xFEE0000UL, info.UsableBytes);
        Assert.Equal(0x100000UL + 0xFEE0000UL, info.HighestUsableAddress);
        Assert.Equal(MemoryKind.Reserved, info.Regions[1].Kind);
    }

    [Fact]
    public void The_framebuffer_tag_describes_the_display_the_loader_left()
    {
        var payload = new byte[24];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(payload, 0xB8000);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(8), 160);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(12), 80);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(16), 25);
        payload[20] = 16;
        payload[21] = 2;
        Assert.Equal(Multiboot2Error.None, Multiboot2Info.Parse(new Multiboot2InfoBuilder().Tag(8, payload).Build(), out var info));
        Assert.True(info.HasDisplay);
        Assert.Equal(FramebufferKind.EgaText, info.Display.Kind);
        Assert.Equal((0xB8000UL, 160u, 80u, 25u), (info.Display.Address, info.Display.Pitch, info.Display.Width, info.Display.Height));
        Assert.False(Multiboot2Info.Parse(TypicalGrubInfo(), out var none) != Multiboot2Error.None || none.HasDisplay);
    }

    [Fact]
    public void Memory_map_entries_larger_than_the_minimum_are_stepped_over_by_their_declared_size()
    {
        var bytes = new Multiboot2InfoBuilder().MemoryMap(32, (0x100000, 0x1000000, 1), (0x2000000, 0x1000, 3)).Build();
        Assert.Equal(Multiboot2Error.None, Multiboot2Info.Parse(bytes, out var info));
        Assert.Equal(2, info.Regions.Length);
        Assert.Equal(MemoryKind.AcpiReclaimable, info.Regions[1].Kind);
    }

    [Fact]
    public void Unknown_memory_types_count_as_reserved()
    {
        var bytes = new Multiboot2InfoBuilder().MemoryMap((0x100000, 0x1000, 17)).Build();
        Assert.Equal(Multiboot2Error.None, Multiboot2Info.Parse(bytes, out var info));
        Assert.Equal(MemoryKind.Reserved, info.Regions[0].Kind);
        Assert.Equal(0UL, info.UsableBytes);
    }

    [Fact]
    public void A_total_size_beyond_the_buffer_is_rejected()
    {
        var bytes = TypicalGrubInfo();
        Assert.Equal(Multiboot2Error.BadTotalSize, Multiboot2Info.Parse(bytes.AsSpan(0, bytes.Length - 8), out _));
    }

    [Fact]
    public void A_tag_smaller_than_its_header_is_rejected()
    {
        var bytes = new Multiboot2InfoBuilder().String(1, "x").Build();
        bytes[12] = 4;
        Assert.Equal(Multiboot2Error.BadTagSize, Multiboot2Info.Parse(bytes, out _));
    }

    [Fact]
    public void A_tag_running_past_the_end_is_rejected()
    {
        var bytes = new Multiboot2InfoBuilder().String(1, "x").Build();
        bytes[12] = 200;
        Assert.Equal(Multiboot2Error.TagOutOfBounds, Multiboot2Info.Parse(bytes, out _));
    }

    [Fact]
    public void A_structure_without_an_end_tag_is_reported_but_keeps_what_was_read()
    {
        var bytes = new Multiboot2InfoBuilder().String(1, "console=ttyS0").Build(withEndTag: false);
        Assert.Equal(Multiboot2Error.MissingEndTag, Multiboot2Info.Parse(bytes, out var info));
        Assert.Equal("console=ttyS0", info.CommandLine);
    }

    [Fact]
    public void A_memory_map_with_entries_too_small_to_hold_base_length_and_type_is_rejected()
    {
        var bytes = new Multiboot2InfoBuilder().MemoryMap(16, (0x100000, 0x1000, 1)).Build();
        Assert.Equal(Multiboot2Error.BadMemoryMap, Multiboot2Info.Parse(bytes, out _));
    }

    [Fact]
    public void Zero_length_and_wrapping_memory_ranges_are_ignored()
    {
        var bytes = new Multiboot2InfoBuilder().MemoryMap((0x1000, 0, 1), (ulong.MaxValue - 10, 100, 1), (0x100000, 0x1000, 1)).Build();
        Assert.Equal(Multiboot2Error.None, Multiboot2Info.Parse(bytes, out var info));
        Assert.Single(info.Regions);
    }

    [FsCheck.Xunit.Property(MaxTest = 2000)]
    public bool Arbitrary_bytes_never_throw_and_never_yield_ranges_that_wrap(byte[] garbage)
    {
        var error = Multiboot2Info.Parse(garbage, out var info);
        return Enum.IsDefined(error) && info.Regions.All(r => r.Length > 0 && r.Base + r.Length > r.Base);
    }

    [FsCheck.Xunit.Property(MaxTest = 2000)]
    public bool Corrupting_any_byte_of_a_valid_structure_never_throws(PositiveInt position, byte value)
    {
        var bytes = TypicalGrubInfo();
        bytes[position.Get % bytes.Length] = value;
        var error = Multiboot2Info.Parse(bytes, out var info);
        return Enum.IsDefined(error) && info.Modules.Length <= 32 && info.Regions.Length <= 128;
    }
}

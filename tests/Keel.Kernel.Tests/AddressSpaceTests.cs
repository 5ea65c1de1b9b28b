using FsCheck;
using FsCheck.Fluent;
using Keel.Kernel.Memory;

namespace Keel.Kernel.Tests;

/// <summary>Physical memory for page-table tests: a table per frame, created on first use.</summary>
internal struct TestMemory : IPhysicalMemory
{
    public Dictionary<ulong, ulong[]> Tables;

    public Span<ulong> Table(ulong physicalAddress)
    {
        Assert.Equal(0UL, physicalAddress % 4096);
        if (!Tables.TryGetValue(physicalAddress, out var table)) Tables[physicalAddress] = table = new ulong[512];
        return table;
    }
}

public class AddressSpaceTests
{
    private static (AddressSpace<TestMemory> Space, FrameAllocator Frames, TestMemory Memory) Create(ulong frames = 4096)
    {
        var allocator = new FrameAllocator(frames * 4096);
        allocator.AddUsable(0x1000, (frames - 1) * 4096);
        var memory = new TestMemory { Tables = [] };
        Assert.True(AddressSpace<TestMemory>.TryCreate(allocator, memory, out var space));
        return (space, allocator, memory);
    }

    private const PageFlags Data = PageFlags.Writable | PageFlags.NoExecute;

    [Fact]
    public void A_mapped_page_translates_to_its_frame_with_its_flags()
    {
        var (space, _, _) = Create();
        Assert.Equal(MapResult.Mapped, space.Map(0xFFFFFFFF80200000, 0x200000, PageFlags.Global));
        Assert.True(space.Translate(0xFFFFFFFF80200123, out ulong physical, out PageFlags flags));
        Assert.Equal(0x200123UL, physical);
        Assert.True(flags.HasFlag(PageFlags.Present));
        Assert.False(flags.HasFlag(PageFlags.Writable));
        Assert.False(flags.HasFlag(PageFlags.NoExecute));
    }

    [Fact]
    public void Writable_and_executable_mappings_are_refused()
    {
        var (space, _, _) = Create();
        Assert.Equal(MapResult.WritableAndExecutable, space.Map(0x400000, 0x400000, PageFlags.Writable));
        Assert.Equal(MapResult.WritableAndExecutable, space.MapLarge(0x400000, 0x400000, PageFlags.Writable | PageFlags.User));
        Assert.False(space.Translate(0x400000, out _, out _));
    }

    [Fact]
    public void Non_canonical_and_unaligned_addresses_are_refused()
    {
        var (space, _, _) = Create();
        Assert.Equal(MapResult.NotCanonical, space.Map(0x0000800000000000, 0x1000, Data));
        Assert.Equal(MapResult.NotAligned, space.Map(0x1001, 0x1000, Data));
        Assert.Equal(MapResult.NotAligned, space.Map(0x1000, 0x1800, Data));
        Assert.Equal(MapResult.NotAligned, space.MapLarge(0x201000, 0x200000, Data));
        Assert.Equal(MapResult.NotAligned, space.Map(0x1000, 1UL << 52, Data));
    }

    [Fact]
    public void An_existing_mapping_is_never_replaced()
    {
        var (space, _, _) = Create();
        Assert.Equal(MapResult.Mapped, space.Map(0x5000, 0x9000, Data));
        Assert.Equal(MapResult.AlreadyMapped, space.Map(0x5000, 0xA000, Data));
        Assert.Equal(MapResult.Mapped, space.MapLarge(0x600000, 0x600000, Data));
        Assert.Equal(MapResult.AlreadyMapped, space.Map(0x601000, 0x1000, Data));
        Assert.True(space.Translate(0x5000, out ulong physical, out _));
        Assert.Equal(0x9000UL, physical);
    }

    [Fact]
    public void Large_pages_translate_every_address_inside_them()
    {
        var (space, _, _) = Create();
        Assert.Equal(MapResult.Mapped, space.MapLarge(0xFFFF800000200000, 0x200000, Data | PageFlags.CacheDisable));
        Assert.True(space.Translate(0xFFFF8000003FFFFF, out ulong physical, out PageFlags flags));
        Assert.Equal(0x3FFFFFUL, physical);
        Assert.True(flags.HasFlag(PageFlags.Large));
        Assert.True(flags.HasFlag(PageFlags.CacheDisable));
    }

    [Fact]
    public void Running_out_of_frames_for_tables_is_reported()
    {
        var (space, frames, _) = Create(frames: 3);
        Assert.True(frames.TryAllocate(out _));
        Assert.Equal(MapResult.OutOfFrames, space.Map(0x1000, 0x1000, Data));
    }

    [Fact]
    public void A_user_leaf_makes_its_intermediate_tables_user_accessible_and_a_kernel_leaf_does_not()
    {
        var (space, _, memory) = Create();
        Assert.Equal(MapResult.Mapped, space.Map(0x1000, 0x1000, Data));
        ulong pml4Entry = memory.Table(space.Root)[0];
        Assert.Equal(0UL, pml4Entry & (ulong)PageFlags.User);
        Assert.Equal(MapResult.Mapped, space.Map(0x2000, 0x2000, Data | PageFlags.User));
        Assert.NotEqual(0UL, memory.Table(space.Root)[0] & (ulong)PageFlags.User);
    }

    [FsCheck.Xunit.Property(MaxTest = 200)]
    public Property Every_mapped_page_translates_back_and_unmapped_pages_do_not()
    {
        var pages = Gen.Choose(0, 1 << 20).Select(i => (ulong)i).ArrayOf().ToArbitrary();
        return Prop.ForAll(pages, pageNumbers =>
        {
            var (space, _, _) = Create(8192);
            var mapped = new Dictionary<ulong, ulong>();
            foreach (ulong n in pageNumbers.Distinct())
            {
                // Spread pages over both halves of the address space.
                ulong virtualAddress = (n % 2 == 0 ? 0UL : 0xFFFF800000000000UL) + n * 0x7000 % (1UL << 46) / 4096 * 4096;
                if (mapped.ContainsKey(virtualAddress)) continue;
                ulong physicalAddress = (n * 4096) & 0xFFFFFFFFF000;
                if (space.Map(virtualAddress, physicalAddress, Data) != MapResult.Mapped) return false;
                mapped[virtualAddress] = physicalAddress;
            }
            foreach (var (virtualAddress, physicalAddress) in mapped)
            {
                if (!space.Translate(virtualAddress + 8, out ulong found, out _) || found != physicalAddress + 8) return false;
                ulong neighbour = virtualAddress + 4096;
                if (!mapped.ContainsKey(neighbour) && AddressSpace<TestMemory>.IsCanonical(neighbour) && space.Translate(neighbour, out _, out _)) return false;
            }
            return true;
        });
    }
}

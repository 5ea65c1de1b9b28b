using FsCheck;
using FsCheck.Fluent;
using Keel.Kernel.Domains;

namespace Keel.Kernel.Tests;

public class PvLayoutTests
{
    private const ulong VirtBase = 0xFFFFFFFF80000000, Page = PvLayout.PageSize, MiB = 1024 * 1024;

    [Fact]
    public void The_boot_structures_follow_the_kernel_in_Xens_order_and_the_mapping_ends_on_a_4_MiB_boundary_with_512_KiB_spare()
    {
        // A 40 KiB kernel and a 3-page ramdisk in a 16 MiB domain.
        Assert.Equal(PvLayoutError.None, PvLayout.TryCreate(VirtBase, VirtBase, VirtBase + 40 * 1024, 3 * Page - 100, 4096, out var layout));
        Assert.Equal(0UL, layout.KernelPfn);
        Assert.Equal(10UL, layout.KernelPages);
        Assert.Equal(10UL, layout.RamdiskPfn);
        Assert.Equal(3UL, layout.RamdiskPages);
        Assert.Equal(13UL, layout.P2mPfn);
        Assert.Equal(8UL, layout.P2mPages); // 4096 pages x 8 bytes
        Assert.Equal(21UL, layout.StartInfoPfn);
        Assert.Equal(22UL, layout.StorePfn);
        Assert.Equal(23UL, layout.ConsolePfn);
        Assert.Equal(24UL, layout.TablesPfn);
        // One L3 and one L2 for the range; 4 MiB needs two L1s.
        Assert.Equal((1UL, 1UL, 2UL), (layout.L3Tables, layout.L2Tables, layout.L1Tables));
        Assert.Equal(29UL, layout.StackPfn);
        Assert.Equal(VirtBase + 4 * MiB, layout.MappedEnd);
        Assert.True(layout.IsPageTable(24) && layout.IsPageTable(28) && !layout.IsPageTable(29) && !layout.IsPageTable(23));
    }

    [Fact]
    public void GRUB_for_Xen_at_virt_base_zero_gets_pfn_equal_to_va_and_the_top_of_its_memory_stays_outside_the_initial_mapping()
    {
        // Debian's image spans 0-0x473388 (GRUB-FOR-XEN.md, section 1); 32 MiB is 8192 pages.
        Assert.Equal(PvLayoutError.None, PvLayout.TryCreate(0, 0, 0x473388, 0, 8192, out var layout));
        Assert.Equal((0UL, 0x474UL), (layout.KernelPfn, layout.KernelPages));
        Assert.Equal((0x474UL, 16UL), (layout.P2mPfn, layout.P2mPages));
        Assert.Equal(0x484UL, layout.StartInfoPfn);
        // start_info's pt_base is the L4's VA, and GRUB takes pt_base >> 12 as its pfn.
        Assert.Equal(0x487UL, layout.TablesPfn);
        Assert.Equal(0x487UL << 12, layout.VirtualAddress(layout.TablesPfn));
        // 8 MiB mapped: one L4, L3 and L2 and four L1s.
        Assert.Equal(7UL, layout.TableFrames);
        Assert.Equal(8 * MiB, layout.MappedEnd);
        // GRUB builds its own tables in the top 20 pfns (17 L1s for 8196 pages, one L2, L3, L4) below the
        // frames it swaps to the end; none of them may be a table of the initial mapping.
        Assert.True(layout.MappedPages < 8192 - 20 - 4);
    }

    [Fact]
    public void A_domain_too_small_for_its_initial_mapping_is_refused()
    {
        Assert.Equal(PvLayoutError.TooLittleMemory, PvLayout.TryCreate(VirtBase, VirtBase, VirtBase + 40 * 1024, 0, 512, out _));
    }

    [Fact]
    public void A_mapping_that_would_reach_the_hypervisors_slots_or_wrap_is_refused()
    {
        // One that ends exactly at the top of the lower half fits.
        Assert.Equal(PvLayoutError.None, PvLayout.TryCreate(0x00007FFFFFF00000, 0x00007FFFFFF00000, 0x00007FFFFFF10000, 0, 4096, out _));
        Assert.Equal(PvLayoutError.MappingOutsideGuestSpace, PvLayout.TryCreate(0x00007FFFFFFF0000, 0x00007FFFFFFF0000, 0x00007FFFFFFF1000, 0, 4096, out _));
        Assert.Equal(PvLayoutError.MappingOutsideGuestSpace, PvLayout.TryCreate(0xFFFFFFFFFFF00000, 0xFFFFFFFFFFF00000, 0xFFFFFFFFFFF10000, 0, 4096, out _));
        Assert.Equal(PvLayoutError.MappingOutsideGuestSpace, PvLayout.TryCreate(0xFFFF800000000000, 0xFFFF800000000000, 0xFFFF800000010000, 0, 4096, out _));
        Assert.Equal(PvLayoutError.ImageBelowVirtBase, PvLayout.TryCreate(VirtBase, VirtBase - Page, VirtBase, 0, 4096, out _));
    }

    [FsCheck.Xunit.Property(MaxTest = 500)]
    public Property Every_structure_lies_inside_the_mapping_and_the_tables_map_all_of_it() =>
        Prop.ForAll(Gen.Choose(1, 4096).ToArbitrary(), Gen.Choose(0, 2048).ToArbitrary(), Gen.Choose(1024, 1 << 20).ToArbitrary(), (int kernelPages, int ramdiskPages, int pages) =>
        {
            var error = PvLayout.TryCreate(VirtBase, VirtBase, VirtBase + (ulong)kernelPages * Page, (ulong)ramdiskPages * Page, (ulong)pages, out var layout);
            if (error == PvLayoutError.TooLittleMemory) return layout.MappedPages > (ulong)pages;
            if (error != PvLayoutError.None) return false;
            ulong l1Covers = layout.L1Tables * 512, mapped = layout.MappedPages;
            return layout.StackPfn + 1 <= mapped
                && mapped * Page >= (layout.StackPfn + 1) * Page + 512 * 1024
                && layout.MappedEnd % (4 * MiB) == 0
                && l1Covers >= mapped && (layout.L1Tables - 1) * 512 < mapped
                && layout.P2mPages * 512 >= (ulong)pages
                && mapped <= (ulong)pages;
        });
}

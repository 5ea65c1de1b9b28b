using Keel.Kernel.Paging;
using static Keel.Kernel.Paging.EntryRules;

namespace Keel.Kernel.Tests;

public class EntryRulesTests
{
    [Fact]
    public void Upper_levels_refuse_exactly_the_memory_type_bits_large_pages_and_global()
    {
        Assert.Equal(WriteThrough | CacheDisable | LargeOrPat | Global, DisallowedUpper);
    }

    [Fact]
    public void L1_entries_may_be_global_but_choose_memory_types_only_with_io_access()
    {
        Assert.Equal(WriteThrough | CacheDisable | LargeOrPat, L1Disallowed(ioCapable: false));
        Assert.Equal(0UL, L1Disallowed(ioCapable: true));
    }

    [Fact]
    public void A_kernel_mapping_gets_the_user_bit_and_the_guest_kernel_mark_but_stays_local()
    {
        ulong adjusted = AdjustL1(Present | Writable | (5UL << 12));
        Assert.Equal(Present | Writable | User | GuestKernel | (5UL << 12), adjusted);
    }

    [Fact]
    public void A_user_mapping_becomes_global()
    {
        Assert.Equal(Present | User | Global | (5UL << 12), AdjustL1(Present | User | (5UL << 12)));
    }

    [Fact]
    public void Adjusting_twice_changes_nothing_more_and_absent_entries_are_left_alone()
    {
        ulong once = AdjustL1(Present | (9UL << 12));
        Assert.Equal(once, AdjustL1(once));
        Assert.Equal(0x1234000UL, AdjustL1(0x1234000));
    }

    [Fact]
    public void Upper_entries_get_the_user_bit_and_L4_entries_the_accessed_bit_too()
    {
        Assert.Equal(Present | User, AdjustUpper(Present, 2));
        Assert.Equal(Present | User, AdjustUpper(Present, 3));
        Assert.Equal(Present | User | Accessed, AdjustUpper(Present, 4));
    }

    [Theory]
    [InlineData(0UL, WriteThrough | CacheDisable)]
    [InlineData(WriteThrough, WriteThrough | CacheDisable)]
    [InlineData(LargeOrPat | WriteThrough, WriteThrough | CacheDisable)]
    [InlineData(CacheDisable, CacheDisable)]
    [InlineData(CacheDisable | WriteThrough, CacheDisable | WriteThrough)]
    [InlineData(LargeOrPat, LargeOrPat)]
    public void Cacheable_io_mappings_become_uncacheable_and_uc_uc_minus_and_wc_stay(ulong attributes, ulong expected)
    {
        ulong entry = Present | (7UL << 12) | attributes;
        Assert.Equal(Present | (7UL << 12) | expected, ForceUncacheable(entry));
    }

    [Theory]
    [InlineData(0x0000_7FFF_FFFF_F000UL, true)]
    [InlineData(0x0000_8000_0000_0000UL, false)]
    [InlineData(0xFFFF_7FFF_FFFF_F000UL, false)]
    [InlineData(0xFFFF_8000_0000_0000UL, false)]
    [InlineData(0xFFFF_87FF_FFFF_F000UL, false)]
    [InlineData(0xFFFF_8800_0000_0000UL, true)]
    [InlineData(0xFFFF_FFFF_8000_0000UL, true)]
    public void Guest_addresses_exclude_non_canonical_ones_and_the_hypervisors_range(ulong va, bool guest)
    {
        Assert.Equal(guest, IsGuestAddress(va));
    }

    [Fact]
    public void Only_the_sixteen_hypervisor_slots_are_not_the_guests()
    {
        Assert.True(IsGuestL4Slot(255));
        Assert.False(IsGuestL4Slot(256));
        Assert.False(IsGuestL4Slot(271));
        Assert.True(IsGuestL4Slot(272));
    }

    [Fact]
    public void The_fast_path_takes_accessed_dirty_global_nx_and_software_bits_but_never_rw_pse_or_the_frame()
    {
        ulong entry = Present | User | (3UL << 12);
        Assert.False(NeedsValidation(entry, entry | Accessed | Dirty | Global | NoExecute | Available | AvailableHigh));
        Assert.True(NeedsValidation(entry, entry | Writable));
        Assert.True(NeedsValidation(entry, entry | LargeOrPat));
        Assert.True(NeedsValidation(entry, entry | CacheDisable));
        Assert.True(NeedsValidation(entry, entry + (1UL << 12)));
        Assert.True(NeedsValidation(0, entry));
    }
}

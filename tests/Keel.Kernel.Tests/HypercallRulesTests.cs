using Keel.Kernel.Hypercalls;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Tests;

/// <summary>multicall (xen/common/multicall.c, XSA-213), vm_assist (xen/common/domain.c) and set_segment_base's selector rule.</summary>
public class HypercallRulesTests
{
    [Fact]
    public void After_an_iret_a_multicall_ends_and_after_a_block_it_continues_later()
    {
        Assert.Equal(MulticallStep.Next, MulticallRules.After(HypercallNumber.XenVersion, domainAlive: true, vcpuRunnable: true));
        Assert.Equal(MulticallStep.Exit, MulticallRules.After(HypercallNumber.Iret, true, true));
        Assert.Equal(MulticallStep.ContinueLater, MulticallRules.After(HypercallNumber.SchedOp, true, vcpuRunnable: false));
    }

    [Fact]
    public void Once_the_domain_has_ended_a_multicall_touches_nothing_more_whatever_the_entry_was()
    {
        foreach (var op in new[] { HypercallNumber.SchedOp, HypercallNumber.Iret, HypercallNumber.ConsoleIo })
        {
            Assert.Equal(MulticallStep.Abandon, MulticallRules.After(op, domainAlive: false, vcpuRunnable: false));
        }
    }

    [Fact]
    public void A_multicall_inside_a_multicall_is_refused_and_nothing_else_is()
    {
        Assert.True(MulticallRules.IsRefusedInside(HypercallNumber.Multicall));
        Assert.False(MulticallRules.IsRefusedInside(HypercallNumber.Iret));
        Assert.False(MulticallRules.IsRefusedInside((HypercallNumber)99));
    }

    [Fact]
    public void A_long_list_is_cut_into_visits_of_a_fixed_number_of_entries()
    {
        Assert.False(MulticallRules.PreemptBefore(0));
        Assert.False(MulticallRules.PreemptBefore(MulticallRules.EntriesPerVisit - 1));
        Assert.True(MulticallRules.PreemptBefore(MulticallRules.EntriesPerVisit));
        Assert.True(MulticallRules.PreemptBefore(2 * MulticallRules.EntriesPerVisit));
    }

    [Fact]
    public void A_list_whose_size_overflows_or_which_starts_in_the_hypervisors_range_is_refused()
    {
        Assert.True(MulticallRules.ListAccepted(0x1000, 3));
        Assert.True(MulticallRules.ListAccepted(0x1000, 0));
        Assert.False(MulticallRules.ListAccepted(0x1000, ulong.MaxValue / 64));
        Assert.False(MulticallRules.ListAccepted(0xFFFF800000000000, 1));
        Assert.False(MulticallRules.ListAccepted(0x0000800000000000, 1));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(2u)]
    [InlineData(3u)]
    [InlineData(4u)]
    [InlineData(5u)]
    [InlineData(32u)]
    public void Every_type_Xen_accepts_from_a_64_bit_PV_guest_can_be_enabled_and_disabled(uint type)
    {
        ulong enabled = 0;
        Assert.Equal(0, VmAssistRules.Apply(ref enabled, VmAssistCommand.Enable, type));
        Assert.Equal(1UL << (int)type, enabled);
        Assert.Equal(0, VmAssistRules.Apply(ref enabled, VmAssistCommand.Disable, type));
        Assert.Equal(0UL, enabled);
    }

    [Theory]
    [InlineData(6u)]
    [InlineData(31u)]
    [InlineData(33u)]
    [InlineData(63u)]
    [InlineData(64u)]
    [InlineData(uint.MaxValue)]
    public void Any_other_type_is_EINVAL_and_changes_nothing(uint type)
    {
        ulong enabled = 0x5;
        Assert.Equal(Errno.EINVAL, VmAssistRules.Apply(ref enabled, VmAssistCommand.Enable, type));
        Assert.Equal(0x5UL, enabled);
    }

    [Fact]
    public void An_unknown_command_is_ENOSYS_but_only_for_a_valid_type()
    {
        ulong enabled = 0;
        Assert.Equal(Errno.ENOSYS, VmAssistRules.Apply(ref enabled, 2, (uint)VmAssistType.WritablePagetables));
        Assert.Equal(Errno.EINVAL, VmAssistRules.Apply(ref enabled, 2, 6));
        Assert.Equal(0UL, enabled);
    }

    [Theory]
    [InlineData(0x0000UL, 0x0000)]
    [InlineData(0x0003UL, 0x0000)]
    [InlineData(0xE02BUL, 0xE02B)]
    [InlineData(0xE028UL, 0xE02B)]
    [InlineData(0xE020UL, 0xE023)]
    [InlineData(0xE030UL, 0xE033)]
    [InlineData(0x1_0000_E02BUL, 0xE02B)]
    [InlineData(0xE008UL, 0x0000)]
    [InlineData(0xE010UL, 0x0000)]
    [InlineData(0xE040UL, 0x0000)]
    [InlineData(0x0008UL, 0x0000)]
    [InlineData(0xFFFFUL, 0x0000)]
    public void The_user_GS_selector_gets_RPL_3_and_one_that_would_fault_loads_as_null(ulong argument, int loaded)
    {
        Assert.Equal((ushort)loaded, SegmentBaseRules.UserGsSelector(argument));
    }
}

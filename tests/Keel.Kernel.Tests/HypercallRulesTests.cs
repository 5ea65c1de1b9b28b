using Keel.Kernel.Hypercalls;

namespace Keel.Kernel.Tests;

/// <summary>set_segment_base's selector rule (xen/arch/x86/pv/misc-hypercalls.c).</summary>
public class HypercallRulesTests
{
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

using Keel.Ringlib.Xen;
using Keel.Kernel.Memory;
using Keel.Kernel.Paging;
using static Keel.Kernel.Paging.EntryRules;
using static Keel.Kernel.Tests.PagingMachine;

namespace Keel.Kernel.Tests;

/// <summary>Regression tests named for the Xen security advisories whose holes they keep closed.</summary>
public class PagingAdvisoryTests
{
    private const ulong Rw = Present | Writable;

    private static (PagingMachine M, Guest G) Built()
    {
        var m = new PagingMachine();
        return (m, GuestBuilder.Build(m, 0, 4));
    }

    [Fact]
    public void Xsa_148_a_large_page_is_refused_at_L2_and_L3_by_an_update_and_by_validation()
    {
        var (m, g) = Built();
        int l2Slot = IndexOf(g.VirtBase, 2);
        int l3Slot = IndexOf(g.VirtBase, 3);
        ulong before = m.Table(g.L2)[l2Slot];
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L2, l2Slot, before | LargeOrPat));
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L2, l2Slot + 1, Entry(0x200, Rw | LargeOrPat)));
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L3, l3Slot, m.Table(g.L3)[l3Slot] | LargeOrPat));
        Assert.Equal(before, m.Table(g.L2)[l2Slot]);

        ulong fresh = m.Frame(0);
        Assert.Equal(0, m.Paging.WriteInitialEntry(0, fresh, 0, Entry(g.Data[0] & ~511UL, Rw | LargeOrPat)));
        Assert.Equal(Errno.EINVAL, m.Pin(0, fresh, 2));
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void Xsa_182_a_linear_entry_cannot_become_writable_through_a_flags_only_update()
    {
        var (m, g) = Built();
        Assert.Equal(0, m.Update(0, g.L4, 5, Entry(g.L4, Present)));
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L4, 5, m.Table(g.L4)[5] | Writable));
        Assert.False(IsWritable(m.Table(g.L4)[5]));

        ulong other = m.Frame(0);
        Assert.Equal(0, m.Pin(0, other, 2));
        Assert.Equal(0, m.Update(0, g.L2, 9, Entry(other, Present)));
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L2, 9, m.Table(g.L2)[9] | Writable));
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L2, 9, m.Table(g.L2)[9] | Writable, command: MmuUpdateRequest.PtUpdatePreserveAd));
        Assert.False(IsWritable(m.Table(g.L2)[9]));
        Assert.Equal(0, m.Update(0, g.L2, 9, m.Table(g.L2)[9] | Accessed | NoExecute));
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void A_table_may_map_itself_read_only_with_no_reference_taken()
    {
        var (m, g) = Built();
        uint refs = m.Frames[g.L4].ReferenceCount;
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L4, 7, Entry(g.L4, Rw)));
        Assert.Equal(0, m.Update(0, g.L4, 7, Entry(g.L4, Present)));
        Assert.Equal(refs, m.Frames[g.L4].ReferenceCount);
        Assert.Equal(0, m.Frames[g.L4].LinearCount);
        Assert.Equal(0, m.Update(0, g.L4, 7, 0));
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void Xsa_240_linear_entries_go_one_level_deep_and_never_chain()
    {
        var m = new PagingMachine();
        ulong a = m.Frame(0), b = m.Frame(0), c = m.Frame(0);
        foreach (ulong table in new[] { a, b, c }) Assert.Equal(0, m.Pin(0, table, 4));

        Assert.Equal(0, m.Update(0, a, 1, Entry(b, Present)));
        Assert.Equal(1, m.Frames[a].LinearCount);
        Assert.Equal(-1, m.Frames[b].LinearCount);
        Assert.Equal(Errno.EINVAL, m.Update(0, b, 1, Entry(c, Present)));
        Assert.Equal(Errno.EINVAL, m.Update(0, c, 1, Entry(a, Present)));
        Assert.Equal(Errno.EINVAL, m.Update(0, b, 1, Entry(a, Present)));
        Assert.Equal(0, m.Update(0, a, 2, Entry(c, Present)));
        Assert.Equal(2, m.Frames[a].LinearCount);

        Assert.Equal(0, m.Update(0, a, 1, 0));
        Assert.Equal(0, m.Update(0, a, 2, 0));
        Assert.Equal(0, m.Update(0, b, 1, Entry(c, Present)));
        PagingInvariants.AssertHolds(m, []);
    }

    [Fact]
    public void Xsa_240_a_linear_entry_holds_its_target_as_a_table_until_the_entry_goes()
    {
        var m = new PagingMachine();
        ulong a = m.Frame(0), b = m.Frame(0);
        Assert.Equal(0, m.Pin(0, b, 2));
        Assert.Equal(0, m.Paging.WriteInitialEntry(0, a, 1, Entry(b, Present)));
        Assert.Equal(0, m.Pin(0, a, 2));
        Assert.Equal(0, m.Unpin(0, b));
        Assert.Equal(PageType.L2, m.Frames[b].Type);
        Assert.Equal(1u, m.Frames[b].TypeCount);
        Assert.Equal(Errno.EINVAL, m.Update(0, a, 2, Entry(b, Rw)));
        Assert.Equal(0, m.Unpin(0, a));
        Assert.Equal(0u, m.Frames[b].TypeCount);
        Assert.Equal(0, m.Frames[b].LinearCount);
        PagingInvariants.AssertHolds(m, []);
    }

    [Fact]
    public void Xsa_279_update_va_mapping_refuses_non_canonical_and_hypervisor_addresses()
    {
        var (m, g) = Built();
        ulong[] before = m.Table(g.L1).ToArray();
        foreach (ulong va in new[] { 0x0000_8000_0000_0000UL, 0x8000_0000_0000_0000UL, 0xFFFF_7FFF_FFFF_F000UL,
                                     0xFFFF_8000_0000_0000UL, 0xFFFF_87FF_FFFF_F000UL, g.VirtBase ^ (1UL << 47) })
        {
            TlbFlush flush = default;
            Assert.Equal(Errno.EINVAL, m.Paging.UpdateVaMapping(0, g.Vcpu, va, Entry(g.Data[0], Rw), UpdateVaFlags.Invlpg, ref flush));
            Assert.True(flush.IsNone);
        }
        Assert.Equal(before, m.Table(g.L1).ToArray());
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void Xsa_286_removing_an_upper_entry_through_mmu_update_asks_every_vcpu_to_flush()
    {
        var (m, g) = Built();
        int l2Slot = IndexOf(g.VirtBase, 2);
        Assert.Equal(0, m.Update(0, g.L2, l2Slot, 0, out TlbFlush flush));
        Assert.Equal(TlbFlushKind.All, flush.Kind);
        Assert.True(flush.OtherVcpus);
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void Xsa_286_a_frame_unmapped_writable_without_a_flush_is_flushed_before_it_becomes_a_table()
    {
        var (m, g) = Built();
        ulong data = g.Data[1];
        Assert.Equal(0, m.Update(0, g.L1, IndexOf(g.Va(1), 1), 0, out TlbFlush flush));
        Assert.True(flush.IsNone);
        var none = new VcpuTables();
        Assert.Equal(0, m.ExtOp(0, ref none, MmuExtRequest.PinL1Table, out flush, data));
        Assert.Equal(TlbFlushKind.All, flush.Kind);
        Assert.True(flush.OtherVcpus);
        Assert.Equal(0, m.Unpin(0, data));
        Assert.Equal(0, m.ExtOp(0, ref none, MmuExtRequest.PinL1Table, out flush, data));
        Assert.True(flush.IsNone);
    }

    [Fact]
    public void Xsa_401_a_demoted_table_is_flushed_before_it_becomes_writable()
    {
        var m = new PagingMachine();
        ulong l1 = m.Frame(0);
        Assert.Equal(0, m.Pin(0, l1, 1));
        Assert.Equal(0, m.Unpin(0, l1));
        Assert.Equal(0, m.Update(0, l1, 3, 0x1234, out TlbFlush flush));
        Assert.Equal(TlbFlushKind.All, flush.Kind);
        Assert.Equal(PageType.Writable, m.Frames[l1].Type);
    }
}

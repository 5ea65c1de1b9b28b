using Keel.Ringlib.Xen;
using Keel.Kernel.Memory;
using Keel.Kernel.Paging;
using static Keel.Kernel.Paging.EntryRules;
using static Keel.Kernel.Tests.PagingMachine;

namespace Keel.Kernel.Tests;

public class DirectPagingTests
{
    private const ulong Rw = Present | Writable;

    private static (PagingMachine M, Guest G) Built(TestIo? io = null)
    {
        var m = new PagingMachine(io: io);
        return (m, GuestBuilder.Build(m, 0, 4));
    }

    private static int Slot(Guest g, int frame) => IndexOf(g.Va(frame), 1);

    [Fact]
    public void Pinning_the_built_L4_validates_the_whole_tree_and_types_the_data_writable()
    {
        var (m, g) = Built();
        Assert.Equal(PageType.L4, m.Frames[g.L4].Type);
        Assert.True(m.Frames[g.L4].IsPinned);
        Assert.Equal(2u, m.Frames[g.L4].TypeCount);
        Assert.Equal(PageType.L3, m.Frames[g.L3].Type);
        Assert.Equal(PageType.L2, m.Frames[g.L2].Type);
        Assert.Equal(PageType.L1, m.Frames[g.L1].Type);
        Assert.All(g.Data, d => Assert.Equal(PageType.Writable, m.Frames[d].Type));
        Assert.All([g.L4, g.L3, g.L2, g.L1], t => Assert.True(m.Frames[t].IsValidated));
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void A_page_table_frame_can_never_be_mapped_writable()
    {
        var (m, g) = Built();
        foreach (ulong table in new[] { g.L4, g.L3, g.L2, g.L1 })
        {
            Assert.Equal(Errno.EBUSY, m.Update(0, g.L1, 100, Entry(table, Rw)));
            Assert.Equal(0, m.Update(0, g.L1, 100, Entry(table, Present)));
        }
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void A_frame_mapped_writable_cannot_become_a_page_table()
    {
        var (m, g) = Built();
        for (int level = 1; level <= 4; level++) Assert.Equal(Errno.EINVAL, m.Pin(0, g.Data[0], level));
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L2, 5, Entry(g.Data[0], Rw)));
        Assert.Equal(PageType.Writable, m.Frames[g.Data[0]].Type);
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void A_table_whose_entry_maps_a_table_writable_fails_validation_and_keeps_nothing()
    {
        var m = new PagingMachine();
        ulong l1 = m.Frame(0), data = m.Frame(0);
        Assert.Equal(0, m.Paging.WriteInitialEntry(0, l1, 0, Entry(data, Rw)));
        Assert.Equal(0, m.Paging.WriteInitialEntry(0, l1, 1, Entry(l1, Rw)));
        Assert.Equal(Errno.EBUSY, m.Pin(0, l1, 1));
        Assert.Equal(PageType.None, m.Frames[l1].Type);
        Assert.Equal(0u, m.Frames[data].TypeCount);
        Assert.Equal(1u, m.Frames[data].ReferenceCount);
        PagingInvariants.AssertHolds(m, []);
    }

    [Fact]
    public void A_frame_of_another_domain_cannot_be_mapped_or_used_as_a_table()
    {
        var (m, g) = Built();
        ulong theirs = m.Frame(1);
        Assert.Equal(Errno.EBUSY, m.Update(0, g.L1, 100, Entry(theirs, Present)));
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L2, 5, Entry(theirs, Present)));
        Assert.Equal(Errno.EINVAL, m.Update(1, g.L1, 100, Entry(theirs, Present)));
        Assert.Equal(Errno.EINVAL, m.Pin(1, g.L1, 1));
        Assert.Equal(Errno.EBUSY, m.Update(0, g.L1, 100, Entry((ulong)m.FrameCount - 1, Present)));
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void Io_memory_is_mapped_only_with_permission_and_then_uncacheable()
    {
        ulong io = 128 - PagingMachine.HypervisorFrames - PagingMachine.IoFrames;
        var (m, g) = Built(new TestIo { Domain = 0, First = io, Count = 2 });
        Assert.Equal(0, m.Update(0, g.L1, 100, Entry(io, Rw)));
        Assert.Equal(CacheDisable | WriteThrough, m.Table(g.L1)[100] & CacheAttributes);
        Assert.Equal(0u, m.Frames[io].ReferenceCount);
        Assert.Equal(Errno.EPERM, m.Update(0, g.L1, 101, Entry(io + 2, Present)));
        Assert.Equal(Errno.EPERM, m.Update(0, g.L1, 101, Entry(1UL << 30, Present)));
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L1, 101, Entry(InvalidFrame, Present)));
        Assert.Equal(0, m.Update(0, g.L1, 101, Entry(g.Data[0], Present | CacheDisable)));
        PagingInvariants.AssertHolds(m, [g.Vcpu], new TestIo { Domain = 0, First = io, Count = 2 });
    }

    [Fact]
    public void Domains_without_io_access_may_not_choose_memory_types()
    {
        var (m, g) = Built();
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L1, 100, Entry(g.Data[0], Present | CacheDisable)));
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L1, 100, Entry(g.Data[0], Present | WriteThrough)));
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L1, 100, Entry(g.Data[0], Present | LargeOrPat)));
        Assert.Equal(Errno.EPERM, m.Update(0, g.L1, 100, Entry(m.FirstIoFrame, Present)));
        Assert.Equal(0, m.Update(0, g.L1, 100, Entry(g.Data[0], Present | Global | NoExecute | Available)));
    }

    [Fact]
    public void Each_level_must_point_to_a_table_of_the_level_below()
    {
        var (m, g) = Built();
        int l4Slot = IndexOf(g.VirtBase, 4);
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L4, 1, Entry(g.L2, Rw)));
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L4, 1, Entry(g.L1, Rw)));
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L3, 1, Entry(g.L1, Rw)));
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L2, 1, Entry(g.L3, Rw)));
        Assert.Equal(Errno.EINVAL, m.Update(0, g.L2, 1, Entry(g.Data[1], Rw)));
        Assert.Equal(0, m.Update(0, g.L4, 1, Entry(g.L3, Rw)));
        Assert.Equal(2u, m.Frames[g.L3].TypeCount);
        Assert.Equal(Entry(g.L3, Rw | User | Accessed), m.Table(g.L4)[1]);
        Assert.Equal(Entry(g.L3, Rw | User | Accessed), m.Table(g.L4)[l4Slot]);
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void An_unused_frame_becomes_a_table_when_an_entry_first_points_to_it()
    {
        var (m, g) = Built();
        ulong fresh = m.Frame(0);
        m.Table(fresh)[3] = Entry(g.Data[1], Present);
        Assert.Equal(0, m.Update(0, g.L2, 7, Entry(fresh, Rw)));
        Assert.Equal(PageType.L1, m.Frames[fresh].Type);
        Assert.Equal(Entry(g.Data[1], Present | User | GuestKernel), m.Table(fresh)[3]);
        Assert.Equal(0, m.Update(0, g.L2, 7, 0));
        Assert.Equal(0u, m.Frames[fresh].TypeCount);
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void The_hypervisor_slots_come_from_the_template_and_guest_values_there_are_ignored_or_refused()
    {
        var m = new PagingMachine();
        ulong l4 = m.Frame(0);
        ulong foreign = m.Frame(1);
        Assert.Equal(0, m.Paging.WriteInitialEntry(0, l4, 260, Entry(foreign, Rw)));
        Assert.Equal(0, m.Pin(0, l4, 4));
        for (int i = 0; i < HypervisorSlots; i++) Assert.Equal(m.Template[i], m.Table(l4)[FirstHypervisorSlot + i]);
        Assert.Equal(Errno.EINVAL, m.Update(0, l4, 256, 0));
        Assert.Equal(Errno.EINVAL, m.Update(0, l4, 271, 0));
        Assert.Equal(m.Template[0], m.Table(l4)[256]);
        Assert.Equal(1u, m.Frames[foreign].ReferenceCount);
        PagingInvariants.AssertHolds(m, []);
    }

    [Fact]
    public void A_user_table_loses_the_read_only_m2p()
    {
        var (m, g) = Built();
        ulong user = m.Frame(0);
        Assert.Equal(0, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.NewUserBaseptr, user));
        Assert.Equal(user, g.Vcpu.UserL4);
        Assert.Equal(0UL, m.Table(user)[ReadOnlyM2pSlot]);
        Assert.Equal(m.Template[1], m.Table(user)[257]);
        Assert.Equal(m.Template[0], m.Table(g.L4)[ReadOnlyM2pSlot]);
        Assert.Equal(0, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.NewUserBaseptr, 0));
        Assert.Equal(0u, m.Frames[user].TypeCount);
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void Pinning_twice_is_refused_and_so_is_unpinning_what_is_not_pinned()
    {
        var (m, g) = Built();
        Assert.Equal(Errno.EINVAL, m.Pin(0, g.L4, 4));
        Assert.Equal(Errno.EINVAL, m.Unpin(0, g.L1));
        Assert.Equal(Errno.EINVAL, m.Unpin(0, g.Data[0]));
        Assert.Equal(0, m.Pin(0, g.L1, 1));
        Assert.Equal(Errno.EINVAL, m.Pin(0, g.L1, 1));
        Assert.Equal(Errno.EINVAL, m.Pin(0, g.L1, 2));
        Assert.Equal(0, m.Unpin(0, g.L1));
        Assert.Equal(Errno.EINVAL, m.Unpin(1, g.L4));
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void Unpinning_the_last_use_demotes_the_tree_and_drops_its_references()
    {
        var m = new PagingMachine();
        ulong l2 = m.Frame(0), l1 = m.Frame(0), data = m.Frame(0);
        Assert.Equal(0, m.Paging.WriteInitialEntry(0, l2, 0, Entry(l1, Rw)));
        Assert.Equal(0, m.Paging.WriteInitialEntry(0, l1, 0, Entry(data, Rw)));
        Assert.Equal(0, m.Pin(0, l2, 2));
        Assert.Equal(PageType.Writable, m.Frames[data].Type);
        Assert.Equal(2u, m.Frames[data].ReferenceCount);
        Assert.Equal(0, m.Unpin(0, l2));
        Assert.All([l2, l1, data], f => Assert.Equal(0u, m.Frames[f].TypeCount));
        Assert.All([l2, l1, data], f => Assert.Equal(1u, m.Frames[f].ReferenceCount));
        Assert.False(m.Frames[l2].IsValidated);
        PagingInvariants.AssertHolds(m, []);
    }

    [Fact]
    public void New_baseptr_takes_the_new_L4_before_dropping_the_old()
    {
        var (m, g) = Built();
        ulong other = m.Frame(0);
        Assert.Equal(0, m.Unpin(0, g.L4));
        Assert.Equal(0, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.NewBaseptr, out TlbFlush flush, other));
        Assert.True(flush.ReloadBase);
        Assert.Equal(other, g.Vcpu.KernelL4);
        Assert.Equal(0u, m.Frames[g.L4].TypeCount);
        Assert.Equal(0u, m.Frames[g.L3].TypeCount);
        Assert.Equal(PageType.Writable, m.Frames[g.Data[0]].Type);
        Assert.Equal(0u, m.Frames[g.Data[0]].TypeCount);
        Assert.Equal(Errno.EINVAL, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.NewBaseptr, g.L1));
        Assert.Equal(Errno.EINVAL, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.NewBaseptr, 0));
        Assert.Equal(other, g.Vcpu.KernelL4);
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void Remapping_a_frame_takes_its_new_reference_before_the_old_one_goes()
    {
        var (m, g) = Built();
        ulong data = g.Data[2];
        Assert.Equal(0, m.Release(0, data));
        Assert.Equal(1u, m.Frames[data].ReferenceCount);
        Assert.Equal(0, m.Update(0, g.L1, Slot(g, 2), Entry(data, Present)));
        Assert.Equal((ushort)0, m.Frames.OwnerOf(data));
        Assert.Equal(PageType.Writable, m.Frames[data].Type);
        Assert.Equal(0u, m.Frames[data].TypeCount);
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void Mmu_update_stops_at_the_first_failure_and_reports_how_many_were_done()
    {
        var (m, g) = Built();
        MmuUpdateRequest[] batch =
        [
            new() { Ptr = g.L1 * 4096 + 100 * 8, Val = Entry(g.Data[0], Present) },
            new() { Ptr = g.L1 * 4096 + 101 * 8, Val = Entry(g.Data[1], Present) },
            new() { Ptr = g.L1 * 4096 + 102 * 8, Val = Entry(g.L1, Rw) },
            new() { Ptr = g.L1 * 4096 + 103 * 8, Val = Entry(g.Data[2], Present) },
        ];
        TlbFlush flush = default;
        Assert.Equal(Errno.EBUSY, m.Paging.MmuUpdate(0, batch, DomainIds.Self, out int done, ref flush));
        Assert.Equal(2, done);
        Assert.NotEqual(0UL, m.Table(g.L1)[101]);
        Assert.Equal(0UL, m.Table(g.L1)[103]);
        Assert.Equal(0, m.Paging.MmuUpdate(0, [], DomainIds.Self, out done, ref flush));
        Assert.Equal(0, done);
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void Unknown_mmu_update_commands_are_ENOSYS_and_foreign_domains_are_refused()
    {
        var (m, g) = Built();
        Assert.Equal(Errno.ENOSYS, m.Update(0, g.L1, 100, 0, command: 4));
        Assert.Equal(Errno.ENOSYS, m.Update(0, g.L1, 100, 0, command: 7));
        TlbFlush flush = default;
        var request = new MmuUpdateRequest { Ptr = g.L1 * 4096 + 800, Val = 0 };
        Assert.Equal(Errno.ESRCH, m.Paging.MmuUpdate(0, [request], 0, out int done, ref flush));
        Assert.Equal(Errno.EPERM, m.Paging.MmuUpdate(0, [request], 1, out done, ref flush));
        Assert.Equal(Errno.EPERM, m.Paging.MmuUpdate(0, [request], DomainIds.Self | (2u << 16), out done, ref flush));
        Assert.Equal(0, m.Paging.MmuUpdate(0, [request], DomainIds.Self | (1u << 16), out done, ref flush));
        Assert.Equal(Errno.EPERM, m.Paging.MmuExtOp(0, ref g.Vcpu, [new MmuExtRequest { Cmd = MmuExtRequest.TlbFlushLocal }], 1, out done, ref flush));
    }

    [Fact]
    public void A_frame_in_no_typed_use_is_written_as_plain_data()
    {
        var (m, g) = Built();
        ulong fresh = m.Frame(0);
        Assert.Equal(0, m.Update(0, fresh, 9, 0xFFFF_FFFF_FFFF_FFFF));
        Assert.Equal(0xFFFF_FFFF_FFFF_FFFFUL, m.Table(fresh)[9]);
        Assert.Equal(0, m.Update(0, g.Data[0], 10, 42));
        Assert.Equal(42UL, m.Table(g.Data[0])[10]);
        Assert.Equal(PageType.Writable, m.Frames[fresh].Type);
        Assert.Equal(0u, m.Frames[fresh].TypeCount);
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void Machphys_update_records_a_pfn_only_for_the_domains_own_frames()
    {
        var (m, g) = Built();
        ulong theirs = m.Frame(1);
        Assert.Equal(0, m.Update(0, g.Data[1], 0, 77, command: MmuUpdateRequest.MachPhysUpdate));
        Assert.Equal(77UL, m.M2p(g.Data[1]));
        Assert.Equal(Errno.EINVAL, m.Update(0, theirs, 0, 77, command: MmuUpdateRequest.MachPhysUpdate));
        Assert.Equal(Errno.EINVAL, m.Update(0, 0, 0, 77, command: MmuUpdateRequest.MachPhysUpdate));
        Assert.NotEqual(77UL, m.M2p(theirs));
    }

    [Fact]
    public void Preserve_ad_keeps_the_accessed_and_dirty_bits_the_processor_set()
    {
        var (m, g) = Built();
        int slot = Slot(g, 0);
        m.Table(g.L1)[slot] |= Accessed | Dirty;
        Assert.Equal(0, m.Update(0, g.L1, slot, Entry(g.Data[0], Rw | NoExecute), command: MmuUpdateRequest.PtUpdatePreserveAd));
        Assert.Equal(Accessed | Dirty, m.Table(g.L1)[slot] & (Accessed | Dirty));
        Assert.Equal(0, m.Update(0, g.L1, slot, Entry(g.Data[0], Rw)));
        Assert.Equal(0UL, m.Table(g.L1)[slot] & (Accessed | Dirty));
    }

    [Fact]
    public void Update_va_mapping_changes_the_entry_found_through_the_guests_tables_and_reports_the_flush_asked()
    {
        var (m, g) = Built();
        TlbFlush flush = default;
        ulong va = g.Va(1);
        Assert.Equal(0, m.Paging.UpdateVaMapping(0, g.Vcpu, va, Entry(g.Data[3], Present), UpdateVaFlags.Invlpg, ref flush));
        Assert.Equal(g.Data[3], FrameOf(m.Table(g.L1)[Slot(g, 1)]));
        Assert.Equal(TlbFlushKind.Page, flush.Kind);
        Assert.Equal(va, flush.Address);
        Assert.False(flush.OtherVcpus);

        flush = default;
        Assert.Equal(0, m.Paging.UpdateVaMapping(0, g.Vcpu, va, 0, UpdateVaFlags.TlbFlush | UpdateVaFlags.All, ref flush));
        Assert.Equal(TlbFlushKind.All, flush.Kind);
        Assert.True(flush.OtherVcpus);

        flush = default;
        Assert.Equal(Errno.EINVAL, m.Paging.UpdateVaMapping(0, g.Vcpu, 0x1000, 0, UpdateVaFlags.Invlpg, ref flush));
        Assert.Equal(Errno.EINVAL, m.Paging.UpdateVaMapping(1, g.Vcpu, va, 0, UpdateVaFlags.Invlpg, ref flush));
        Assert.Equal(Errno.EINVAL, m.Paging.UpdateVaMapping(0, new VcpuTables(), va, 0, UpdateVaFlags.Invlpg, ref flush));
        Assert.Equal(Errno.EBUSY, m.Paging.UpdateVaMapping(0, g.Vcpu, va, Entry(g.L2, Rw), UpdateVaFlags.Invlpg, ref flush));
        Assert.True(flush.IsNone);
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    /// <summary>
    /// GRUB for Xen's map_all_pages (grub-core/kern/xen/init.c; GRUB-FOR-XEN.md, section 2a), which ignores
    /// every result: it fills new tables in frames it owns through a window page, maps a frame the kernel
    /// holds writable (shared_info, its grant frame) by a raw entry in its new L1, switches in one batch
    /// (PIN_L4_TABLE new, NEW_BASEPTR new, UNPIN_TABLE old) and then maps the old tables writable. Each step
    /// must succeed as on Xen.
    /// </summary>
    [Fact]
    public void A_guest_switches_to_tables_it_built_itself_that_map_a_kernel_held_frame_writable_and_then_maps_the_old_tables_writable()
    {
        var (m, g) = Built();
        Assert.Equal(0, m.Paging.AllocateSharedFrame(0, out ulong shared));
        ulong l4 = m.Frame(0), l3 = m.Frame(0), l2 = m.Frame(0), l1 = m.Frame(0);
        ulong[] oldTables = [g.L4, g.L3, g.L2, g.L1], newTables = [l4, l3, l2, l1];
        // GRUB's own layout at VA = pfn << 12: the data frames, the old tables, the new ones, then the kernel's frame.
        ulong[] pfns = [.. g.Data, .. oldTables, .. newTables, shared];
        ulong window = g.Va(0);
        TlbFlush flush = default;
        void Fill(ulong table, int index, ulong entry)
        {
            Assert.Equal(0, m.Paging.UpdateVaMapping(0, g.Vcpu, window, Entry(table, Rw | User), UpdateVaFlags.Invlpg, ref flush));
            m.Table(table)[index] = entry;
        }
        Fill(l4, 0, Entry(l3, Rw | User));
        Fill(l3, 0, Entry(l2, Rw | User));
        Fill(l2, 0, Entry(l1, Rw | User));
        for (int pfn = 0; pfn < pfns.Length; pfn++)
        {
            bool table = pfn >= g.Data.Length && pfn < g.Data.Length + 8;
            Fill(l1, pfn, Entry(pfns[pfn], table ? Present | User : Rw | User));
        }
        Assert.Equal(0, m.Paging.UpdateVaMapping(0, g.Vcpu, window, 0, UpdateVaFlags.Invlpg, ref flush));

        MmuExtRequest[] batch =
        [
            new() { Cmd = MmuExtRequest.PinL4Table, Arg1 = l4 },
            new() { Cmd = MmuExtRequest.NewBaseptr, Arg1 = l4 },
            new() { Cmd = MmuExtRequest.UnpinTable, Arg1 = g.L4 },
        ];
        Assert.Equal(0, m.Paging.MmuExtOp(0, ref g.Vcpu, batch, DomainIds.Self, out int done, ref flush));
        Assert.Equal(3, done);
        Assert.Equal(l4, g.Vcpu.KernelL4);
        Assert.Equal(PageType.Writable, m.Frames[shared].Type);
        Assert.All(oldTables, t => Assert.Equal(0u, m.Frames[t].TypeCount));
        for (int i = 0; i < oldTables.Length; i++)
        {
            ulong va = (ulong)(g.Data.Length + i) * 4096;
            Assert.Equal(0, m.Paging.UpdateVaMapping(0, g.Vcpu, va, Entry(oldTables[i], Rw | User), UpdateVaFlags.Invlpg, ref flush));
        }
        Assert.All(oldTables, t => Assert.Equal(PageType.Writable, m.Frames[t].Type));
        Assert.All(newTables, t => Assert.True(m.Frames[t].IsValidated));
        // The kernel's frame: the domain's own reference, the kernel's and the new mapping's; the kernel's
        // writable type reference and the mapping's. (PagingInvariants counts only what tables hold.)
        Assert.Equal((3u, 2u), (m.Frames[shared].ReferenceCount, m.Frames[shared].TypeCount));
    }

    [Fact]
    public void Flush_commands_are_answered_as_on_one_cpu()
    {
        var (m, g) = Built();
        Assert.Equal(0, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.TlbFlushLocal, out TlbFlush flush));
        Assert.Equal((TlbFlushKind.All, false), (flush.Kind, flush.OtherVcpus));
        Assert.Equal(0, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.TlbFlushMulti, out flush, 0, 0x1234));
        Assert.Equal((TlbFlushKind.All, true), (flush.Kind, flush.OtherVcpus));
        Assert.Equal(0, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.TlbFlushAll, out flush));
        Assert.Equal((TlbFlushKind.All, true), (flush.Kind, flush.OtherVcpus));
        Assert.Equal(0, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.InvlpgLocal, out flush, 0x5000));
        Assert.Equal((TlbFlushKind.Page, 0x5000UL, false), (flush.Kind, flush.Address, flush.OtherVcpus));
        Assert.Equal(0, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.InvlpgAll, out flush, 0x6000));
        Assert.Equal((TlbFlushKind.Page, 0x6000UL, true), (flush.Kind, flush.Address, flush.OtherVcpus));
        Assert.Equal(0, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.InvlpgLocal, out flush, 0x0000_8000_0000_0000));
        Assert.True(flush.IsNone);
        Assert.Equal(0, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.InvlpgMulti, out flush, 0xFFFF_8000_0000_1000));
        Assert.True(flush.IsNone);
    }

    [Fact]
    public void Two_invlpgs_of_different_pages_in_one_batch_become_a_full_flush()
    {
        var (m, g) = Built();
        TlbFlush flush = default;
        MmuExtRequest[] ops =
        [
            new() { Cmd = MmuExtRequest.InvlpgLocal, Arg1 = 0x5000 },
            new() { Cmd = MmuExtRequest.InvlpgLocal, Arg1 = 0x5000 },
        ];
        Assert.Equal(0, m.Paging.MmuExtOp(0, ref g.Vcpu, ops, DomainIds.Self, out int done, ref flush));
        Assert.Equal((2, TlbFlushKind.Page), (done, flush.Kind));
        ops[1].Arg1 = 0x7000;
        Assert.Equal(0, m.Paging.MmuExtOp(0, ref g.Vcpu, ops, DomainIds.Self, out done, ref flush));
        Assert.Equal(TlbFlushKind.All, flush.Kind);
    }

    [Fact]
    public void Unknown_mmuext_commands_are_ENOSYS_superpages_EOPNOTSUPP_and_cache_flushes_need_io_access()
    {
        var (m, g) = Built();
        Assert.Equal(Errno.ENOSYS, m.ExtOp(0, ref g.Vcpu, 14));
        Assert.Equal(Errno.ENOSYS, m.ExtOp(0, ref g.Vcpu, 1000));
        Assert.Equal(Errno.ENOSYS, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.SetLdt));
        Assert.Equal(Errno.EOPNOTSUPP, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.MarkSuper, g.Data[0]));
        Assert.Equal(Errno.EOPNOTSUPP, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.UnmarkSuper, g.Data[0]));
        Assert.Equal(Errno.EACCES, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.FlushCache));
        Assert.Equal(Errno.EACCES, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.FlushCacheGlobal));

        var (io, h) = Built(new TestIo { Domain = 0, First = 120, Count = 1 });
        Assert.Equal(0, io.ExtOp(0, ref h.Vcpu, MmuExtRequest.FlushCache, out TlbFlush flush));
        Assert.True(flush.WriteBackCaches);
    }

    [Fact]
    public void Clear_and_copy_page_need_frames_the_domain_owns_that_can_be_writable()
    {
        var (m, g) = Built();
        m.Table(g.Data[0]).Fill(5);
        Assert.Equal(0, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.CopyPage, g.Data[1], g.Data[0]));
        Assert.Equal(5UL, m.Table(g.Data[1])[511]);
        Assert.Equal(0, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.ClearPage, g.Data[1]));
        Assert.Equal(0UL, m.Table(g.Data[1])[511]);
        Assert.Equal(Errno.EINVAL, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.ClearPage, g.L1));
        Assert.Equal(Errno.EINVAL, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.CopyPage, g.L1, g.Data[0]));
        Assert.Equal(0, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.CopyPage, g.Data[2], g.L1));
        ulong theirs = m.Frame(1);
        Assert.Equal(Errno.EINVAL, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.CopyPage, theirs, g.Data[0]));
        Assert.Equal(Errno.EINVAL, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.CopyPage, g.Data[0], theirs));
        Assert.Equal(Errno.EINVAL, m.ExtOp(0, ref g.Vcpu, MmuExtRequest.ClearPage, theirs));
        PagingInvariants.AssertHolds(m, [g.Vcpu]);
    }

    [Fact]
    public void The_builder_may_write_only_untyped_frames_of_the_domain()
    {
        var (m, g) = Built();
        ulong fresh = m.Frame(0);
        Assert.Equal(0, m.Paging.WriteInitialEntry(0, fresh, 511, 1));
        Assert.Equal(Errno.EINVAL, m.Paging.WriteInitialEntry(0, fresh, 512, 1));
        Assert.Equal(Errno.EINVAL, m.Paging.WriteInitialEntry(0, fresh, -1, 1));
        Assert.Equal(Errno.EINVAL, m.Paging.WriteInitialEntry(1, fresh, 0, 1));
        Assert.Equal(Errno.EBUSY, m.Paging.WriteInitialEntry(0, g.L1, 0, 1));
        Assert.Equal(Errno.EBUSY, m.Paging.WriteInitialEntry(0, g.Data[0], 0, 1));
    }

    [Fact]
    public void Destroying_a_domain_gives_back_every_frame_it_had()
    {
        var m = new PagingMachine();
        var a = GuestBuilder.Build(m, 0, 6);
        var b = GuestBuilder.Build(m, 1, 3);
        Assert.Equal(0, m.Pin(0, a.L1, 1));
        Assert.Equal(0, m.Release(0, a.Data[0]));
        ulong user = m.Frame(0);
        Assert.Equal(0, m.ExtOp(0, ref a.Vcpu, MmuExtRequest.NewUserBaseptr, user));
        TlbFlush flush = default;
        Assert.Equal(0u, m.Paging.DestroyDomain(0, new[] { a.Vcpu }, ref flush));
        Assert.Equal((TlbFlushKind.All, true), (flush.Kind, flush.OtherVcpus));
        Assert.Equal(0u, m.Frames.OwnedFrames(0));
        PagingInvariants.AssertHolds(m, [b.Vcpu]);
        Assert.Equal(0u, m.Paging.DestroyDomain(1, new[] { b.Vcpu }, ref flush));
        Assert.Equal(m.FreeAtStart, m.Allocator.FreeFrames);
        PagingInvariants.AssertHolds(m, []);
    }
}

using Keel.Kernel.Hypercalls;
using Keel.Kernel.Memory;
using Keel.Kernel.Paging;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Tests;

/// <summary>memory_op's checks (xen/common/memory.c) and decrease_reservation's frame-table step.</summary>
public class ReservationTests
{
    private const ushort Caller = 3;
    private const ulong MachineFrames = 65536;

    private static MemoryReservation Request(ulong extents = 1, uint order = 0, uint flags = 0, ushort domain = DomainIds.Self) =>
        new() { ExtentStart = 0xFFFFFFFF80100000, NrExtents = extents, ExtentOrder = order, MemFlags = flags, DomainId = domain };

    private static bool Accept(in MemoryReservation r, uint command = MemoryCommand.PopulatePhysmap, ulong start = 0, bool privileged = false) =>
        ReservationRules.TryAccept(r, command, start, Caller, privileged, MachineFrames, out _);

    [Fact]
    public void DOMID_SELF_and_the_callers_own_id_name_the_caller()
    {
        Assert.True(ReservationRules.TryAccept(Request(), MemoryCommand.PopulatePhysmap, 0, Caller, false, MachineFrames, out ushort target));
        Assert.Equal(Caller, target);
        Assert.True(ReservationRules.TryAccept(Request(domain: Caller), MemoryCommand.DecreaseReservation, 0, Caller, false, MachineFrames, out target));
        Assert.Equal(Caller, target);
    }

    [Fact]
    public void Only_the_control_domain_may_change_or_read_another_domains_reservation()
    {
        Assert.False(Accept(Request(domain: 1)));
        Assert.False(ReservationRules.MayActOn(Caller, false, 1));
        Assert.True(ReservationRules.TryAccept(Request(domain: 1), MemoryCommand.DecreaseReservation, 0, Caller, true, MachineFrames, out ushort target));
        Assert.Equal((ushort)1, target);
        Assert.True(ReservationRules.MayActOn(Caller, true, 1));
        Assert.True(ReservationRules.MayActOn(Caller, false, Caller));
    }

    [Fact]
    public void Only_single_frame_extents_are_carried_out()
    {
        Assert.True(Accept(Request(order: 0)));
        Assert.False(Accept(Request(order: 1)));
        Assert.False(Accept(Request(order: 9), MemoryCommand.DecreaseReservation));
    }

    [Fact]
    public void Counts_a_continuation_cannot_encode_and_starts_at_or_past_the_end_do_nothing()
    {
        Assert.True(Accept(Request(extents: ReservationRules.MaxExtents)));
        Assert.False(Accept(Request(extents: ReservationRules.MaxExtents + 1)));
        Assert.False(Accept(Request(extents: 0)));
        Assert.False(Accept(Request(extents: 4), start: 4));
        Assert.True(Accept(Request(extents: 4), start: 3));
    }

    [Fact]
    public void An_extent_array_that_starts_in_the_hypervisors_range_or_a_non_canonical_address_is_refused()
    {
        var r = Request();
        r.ExtentStart = 0xFFFF800000000000;
        Assert.False(Accept(r));
        r.ExtentStart = 0xFFFF87FFFFFFFFF8;
        Assert.False(Accept(r));
        r.ExtentStart = 0x0000800000000000;
        Assert.False(Accept(r));
        r.ExtentStart = 0xFFFF880000000000;
        Assert.True(Accept(r));
    }

    [Fact]
    public void An_address_limit_the_machine_already_meets_is_none_and_a_real_one_stops_populate_only()
    {
        // 65536 frames: 2^16 pages, 28 address bits.
        Assert.Equal(16u, ReservationRules.OrderOf(MachineFrames));
        Assert.Equal(17u, ReservationRules.OrderOf(MachineFrames + 1));
        Assert.True(Accept(Request(flags: 28)));
        Assert.True(Accept(Request(flags: 32)));
        Assert.False(Accept(Request(flags: 27)));
        Assert.True(Accept(Request(flags: 27), MemoryCommand.DecreaseReservation));
        // Twelve bits or fewer is nonsense for every command (Xen: -EINVAL, so nothing done).
        Assert.False(Accept(Request(flags: 12), MemoryCommand.DecreaseReservation));
    }

    [Fact]
    public void A_node_binds_only_when_insisted_on_and_the_only_node_is_0()
    {
        uint Node(uint n) => (n + 1) << MemoryFlags.NodeShift;
        Assert.Equal(MemoryFlags.AnyNode, MemoryFlags.Node(0));
        Assert.True(Accept(Request(flags: Node(5))));
        Assert.False(Accept(Request(flags: Node(5) | MemoryFlags.ExactNodeRequest)));
        Assert.True(Accept(Request(flags: Node(0) | MemoryFlags.ExactNodeRequest), privileged: true));
        Assert.False(Accept(Request(flags: Node(1) | MemoryFlags.ExactNodeRequest), privileged: true));
        Assert.True(Accept(Request(flags: Node(1) | MemoryFlags.ExactNodeRequest), MemoryCommand.DecreaseReservation, privileged: true));
        Assert.False(Accept(Request(flags: Node(64)), privileged: true));
        // A virtual node of a domain without virtual NUMA constrains nothing.
        Assert.True(Accept(Request(flags: Node(9) | MemoryFlags.ExactNodeRequest | MemoryFlags.VirtualNode)));
    }

    [Fact]
    public void Populate_on_demand_is_refused_and_means_nothing_to_decrease()
    {
        Assert.False(Accept(Request(flags: MemoryFlags.PopulateOnDemand)));
        Assert.True(Accept(Request(flags: MemoryFlags.PopulateOnDemand), MemoryCommand.DecreaseReservation));
    }

    [Fact]
    public void A_frame_given_back_while_it_is_a_page_table_stays_until_the_table_goes_and_is_then_freed()
    {
        var m = new PagingMachine();
        var guest = GuestBuilder.Build(m, 0, 2);
        TlbFlush flush = default;
        Assert.Equal(0, m.Paging.GiveBackFrame(0, guest.L1, ref flush));
        Assert.Equal(PageType.L1, m.Frames.TypeOf(guest.L1));
        Assert.False(m.Allocator.IsFree(guest.L1 * 4096));
        Assert.Equal(TlbFlushKind.None, flush.Kind);
        // Xen counts a second give-back of a frame that still lives as done: put_page_alloc_ref does nothing.
        Assert.Equal(0, m.Paging.GiveBackFrame(0, guest.L1, ref flush));
        PagingInvariants.AssertHolds(m, [guest.Vcpu]);

        Assert.Equal(0, m.Update(0, guest.L2, EntryRules.IndexOf(GuestBuilder.VirtBase, 2), 0));
        Assert.True(m.Allocator.IsFree(guest.L1 * 4096));
        Assert.Equal(Errno.EINVAL, m.Paging.GiveBackFrame(0, guest.L1, ref flush));
        PagingInvariants.AssertHolds(m, [guest.Vcpu]);
    }

    [Fact]
    public void The_running_L4_given_back_lives_on_and_teardown_still_returns_every_frame()
    {
        var m = new PagingMachine();
        var guest = GuestBuilder.Build(m, 0, 2);
        TlbFlush flush = default;
        Assert.Equal(0, m.Paging.GiveBackFrame(0, guest.L4, ref flush));
        Assert.Equal(PageType.L4, m.Frames.TypeOf(guest.L4));
        Assert.True(m.Frames[guest.L4].IsPinned);
        VcpuTables[] vcpus = [guest.Vcpu];
        Assert.Equal(0u, m.Paging.DestroyDomain(0, vcpus, ref flush));
        Assert.Equal(m.FreeAtStart, m.Allocator.FreeFrames);
    }

    [Fact]
    public void Only_a_live_frame_of_the_domain_can_be_given_back()
    {
        var m = new PagingMachine();
        ulong mine = m.Frame(0);
        ulong theirs = m.Frame(1);
        TlbFlush flush = default;
        Assert.Equal(Errno.EINVAL, m.Paging.GiveBackFrame(0, theirs, ref flush));
        Assert.Equal(Errno.EINVAL, m.Paging.GiveBackFrame(0, 0, ref flush));
        Assert.Equal(Errno.EINVAL, m.Paging.GiveBackFrame(0, 1UL << 40, ref flush));
        Assert.Equal(0, m.Paging.GiveBackFrame(0, mine, ref flush));
        Assert.True(m.Allocator.IsFree(mine * 4096));
        Assert.Equal(TlbFlushKind.All, flush.Kind);
        Assert.Equal(Errno.EINVAL, m.Paging.GiveBackFrame(0, mine, ref flush));
    }
}

using Keel.Kernel.Grants;
using Keel.Kernel.Memory;
using Keel.Kernel.Paging;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Tests;

/// <summary>Three domains built as Xen's builder does, each with a one-frame grant table: 1 grants, 2 maps, 3 is a bystander.</summary>
internal sealed class GrantMachine
{
    public const ushort Granter = 1, Mapper = 2, Other = 3;
    public readonly PagingMachine Machine = new(frames: 160, domains: 4);
    public readonly GrantTables<FrameMemory, TestIo> Grants;
    public readonly Guest[] Guests = new Guest[4];

    public GrantMachine()
    {
        Grants = new GrantTables<FrameMemory, TestIo>(4, Machine.Paging, Machine.Memory);
        for (ushort d = 1; d <= 3; d++)
        {
            Guests[d] = GuestBuilder.Build(Machine, d, 4);
            Grants.AddDomain(d);
            Assert.Equal(GrantStatus.Okay, Grants.Grow(d, 1));
        }
    }

    public ref ulong Entry(ushort domain, uint reference) => ref Machine.Table(Grants.FrameOf(domain, 0))[(int)reference];

    public void Offer(uint reference, ushort to, ulong frame, ushort flags = GrantEntry.PermitAccess) =>
        Entry(Granter, reference) = GrantEntry.Make(flags, to, (uint)frame);

    /// <summary>An address in the mapper's one L1 past its own frames, where nothing is mapped yet.</summary>
    public ulong FreeVa(int slot = 0) => Guests[Mapper].Va(16 + slot);

    public ulong MapperL1 => Guests[Mapper].L1;

    public int MapperIndex(int slot = 0) => EntryRules.IndexOf(FreeVa(slot), 1);

    public short Map(uint reference, uint flags, ulong va, out uint handle, ushort granter = Granter, ushort mapper = Mapper)
    {
        TlbFlush flush = default;
        return Grants.Map(mapper, Guests[mapper].Vcpu.KernelL4, granter, reference, flags, va, out handle, out _, ref flush);
    }

    public short Unmap(uint handle, ulong va, ushort mapper = Mapper)
    {
        TlbFlush flush = default;
        return Grants.Unmap(mapper, Guests[mapper].Vcpu.KernelL4, handle, va, 0, ref flush);
    }

    public uint Destroy(ushort domain)
    {
        TlbFlush flush = default;
        Grants.ReleaseMappings(domain, ref flush);
        Grants.RemoveDomain(domain, ref flush);
        var vcpus = new[] { Guests[domain].Vcpu };
        return Machine.Paging.DestroyDomain(domain, vcpus, ref flush);
    }

    public short Copy(GrantCopyRequest op, ushort caller = Mapper)
    {
        TlbFlush flush = default;
        return Grants.Copy(caller, op, ref flush);
    }
}

public class GrantTableTests
{
    private const uint HostRw = GrantMapFlags.HostMap, HostRo = GrantMapFlags.HostMap | GrantMapFlags.ReadOnly;

    [Fact]
    public void A_granted_frame_maps_writable_at_the_mappers_address_and_the_entry_shows_it_in_use()
    {
        var g = new GrantMachine();
        ulong frame = g.Guests[GrantMachine.Granter].Data[0];
        g.Offer(5, GrantMachine.Mapper, frame);
        uint before = g.Machine.Frames[frame].ReferenceCount;

        Assert.Equal(GrantStatus.Okay, g.Map(5, HostRw, g.FreeVa(), out uint handle));

        ulong pte = g.Machine.Table(g.MapperL1)[g.MapperIndex()];
        Assert.Equal(frame, EntryRules.FrameOf(pte));
        Assert.True(EntryRules.IsWritable(pte));
        Assert.Equal(GrantEntry.PermitAccess | GrantEntry.Reading | GrantEntry.Writing, GrantEntry.FlagsOf(g.Entry(GrantMachine.Granter, 5)));
        Assert.Equal(before + 1, g.Machine.Frames[frame].ReferenceCount);

        Assert.Equal(GrantStatus.Okay, g.Unmap(handle, g.FreeVa()));
        Assert.Equal(0UL, g.Machine.Table(g.MapperL1)[g.MapperIndex()]);
        Assert.Equal(GrantEntry.PermitAccess, GrantEntry.FlagsOf(g.Entry(GrantMachine.Granter, 5)));
        Assert.Equal(before, g.Machine.Frames[frame].ReferenceCount);
        Assert.Equal(0, g.Grants.MappingCount(GrantMachine.Mapper));
    }

    [Fact]
    public void A_read_only_grant_refuses_a_writable_mapping_and_maps_read_only()
    {
        var g = new GrantMachine();
        ulong frame = g.Guests[GrantMachine.Granter].Data[1];
        g.Offer(7, GrantMachine.Mapper, frame, GrantEntry.PermitAccess | GrantEntry.ReadOnly);

        Assert.Equal(GrantStatus.GeneralError, g.Map(7, HostRw, g.FreeVa(), out _));
        Assert.Equal(GrantEntry.PermitAccess | GrantEntry.ReadOnly, GrantEntry.FlagsOf(g.Entry(GrantMachine.Granter, 7)));

        Assert.Equal(GrantStatus.Okay, g.Map(7, HostRo, g.FreeVa(), out _));
        Assert.False(EntryRules.IsWritable(g.Machine.Table(g.MapperL1)[g.MapperIndex()]));
        Assert.Equal(GrantEntry.PermitAccess | GrantEntry.ReadOnly | GrantEntry.Reading, GrantEntry.FlagsOf(g.Entry(GrantMachine.Granter, 7)));
    }

    [Fact]
    public void A_grant_never_given_one_given_to_another_domain_and_a_reference_past_the_table_are_refused()
    {
        var g = new GrantMachine();
        ulong frame = g.Guests[GrantMachine.Granter].Data[0];
        g.Offer(3, GrantMachine.Other, frame);

        Assert.Equal(GrantStatus.GeneralError, g.Map(2, HostRw, g.FreeVa(), out _));
        Assert.Equal(GrantStatus.GeneralError, g.Map(3, HostRw, g.FreeVa(), out _));
        Assert.Equal(GrantStatus.BadGntref, g.Map(GrantEntry.PerFrame, HostRw, g.FreeVa(), out _));
        Assert.Equal(GrantStatus.BadGntref, g.Map(3, 0, g.FreeVa(), out _));
        Assert.Equal(GrantStatus.BadDomain, g.Map(3, HostRw, g.FreeVa(), out _, granter: 0));
        Assert.Equal(0UL, g.Machine.Table(g.MapperL1)[g.MapperIndex()]);
        Assert.Equal(0, g.Grants.MappingCount(GrantMachine.Mapper));
    }

    [Fact]
    public void A_grant_of_a_frame_the_granter_does_not_own_is_refused()
    {
        var g = new GrantMachine();
        g.Offer(4, GrantMachine.Mapper, g.Guests[GrantMachine.Other].Data[0]);
        Assert.Equal(GrantStatus.GeneralError, g.Map(4, HostRw, g.FreeVa(), out _));
        Assert.Equal(GrantEntry.PermitAccess, GrantEntry.FlagsOf(g.Entry(GrantMachine.Granter, 4)));
    }

    [Fact]
    public void A_grant_of_the_granters_page_table_maps_read_only_but_never_writable()
    {
        var g = new GrantMachine();
        ulong table = g.Guests[GrantMachine.Granter].L1;
        g.Offer(6, GrantMachine.Mapper, table);
        Assert.Equal(GrantStatus.GeneralError, g.Map(6, HostRw, g.FreeVa(), out _));
        Assert.Equal(GrantStatus.Okay, g.Map(6, HostRo, g.FreeVa(), out _));
    }

    [Fact]
    public void A_writable_mapped_frame_cannot_become_a_page_table_of_its_granter()
    {
        var g = new GrantMachine();
        ulong frame = g.Guests[GrantMachine.Granter].Data[2];
        g.Offer(1, GrantMachine.Mapper, frame);
        Assert.Equal(GrantStatus.Okay, g.Map(1, HostRw, g.FreeVa(), out _));
        Assert.NotEqual(0, g.Machine.Pin(GrantMachine.Granter, frame, 1));
    }

    [Fact]
    public void The_mapper_cannot_overwrite_or_remove_a_grant_mapping_with_mmu_update()
    {
        var g = new GrantMachine();
        ulong frame = g.Guests[GrantMachine.Granter].Data[0];
        g.Offer(1, GrantMachine.Mapper, frame);
        Assert.Equal(GrantStatus.Okay, g.Map(1, HostRw, g.FreeVa(), out _));
        ulong pte = g.Machine.Table(g.MapperL1)[g.MapperIndex()];

        Assert.Equal(Errno.EINVAL, g.Machine.Update(GrantMachine.Mapper, g.MapperL1, g.MapperIndex(), 0));
        Assert.Equal(Errno.EINVAL, g.Machine.Update(GrantMachine.Mapper, g.MapperL1, g.MapperIndex(),
            PagingMachine.Entry(g.Guests[GrantMachine.Mapper].Data[0], EntryRules.Present | EntryRules.Writable)));
        Assert.Equal(pte, g.Machine.Table(g.MapperL1)[g.MapperIndex()]);
    }

    [Fact]
    public void A_guest_cannot_write_a_mapping_of_another_domains_frame_itself()
    {
        var g = new GrantMachine();
        ulong frame = g.Guests[GrantMachine.Granter].Data[0];
        Assert.Equal(Errno.EBUSY, g.Machine.Update(GrantMachine.Mapper, g.MapperL1, g.MapperIndex(), PagingMachine.Entry(frame, EntryRules.Present)));
    }

    [Fact]
    public void A_granter_rewriting_an_entry_in_use_changes_nothing_until_the_last_unmap()
    {
        var g = new GrantMachine();
        ulong first = g.Guests[GrantMachine.Granter].Data[0], second = g.Guests[GrantMachine.Granter].Data[1];
        g.Offer(9, GrantMachine.Mapper, first);
        Assert.Equal(GrantStatus.Okay, g.Map(9, HostRw, g.FreeVa(0), out uint a));

        g.Offer(9, GrantMachine.Other, second);
        Assert.Equal(GrantStatus.Okay, g.Map(9, HostRw, g.FreeVa(1), out uint b));
        Assert.Equal(first, EntryRules.FrameOf(g.Machine.Table(g.MapperL1)[g.MapperIndex(1)]));
        Assert.Equal(GrantStatus.GeneralError, g.Map(9, HostRw, g.FreeVa(0), out _, mapper: GrantMachine.Other));

        Assert.Equal(GrantStatus.Okay, g.Unmap(a, g.FreeVa(0)));
        Assert.Equal(GrantStatus.Okay, g.Unmap(b, g.FreeVa(1)));
        Assert.Equal(GrantStatus.GeneralError, g.Map(9, HostRw, g.FreeVa(0), out _));
    }

    [Fact]
    public void Unmapping_checks_the_handle_and_the_address()
    {
        var g = new GrantMachine();
        g.Offer(2, GrantMachine.Mapper, g.Guests[GrantMachine.Granter].Data[0]);
        Assert.Equal(GrantStatus.Okay, g.Map(2, HostRw, g.FreeVa(), out uint handle));

        Assert.Equal(GrantStatus.BadHandle, g.Unmap(handle + 1, g.FreeVa()));
        Assert.Equal(GrantStatus.BadHandle, g.Unmap(GrantTables<FrameMemory, TestIo>.MaxHandles + 5, g.FreeVa()));
        Assert.Equal(GrantStatus.GeneralError, g.Unmap(handle, g.FreeVa(3)));
        Assert.Equal(GrantStatus.BadHandle, g.Unmap(handle, g.FreeVa(), mapper: GrantMachine.Other));
        Assert.Equal(GrantStatus.Okay, g.Unmap(handle, g.FreeVa()));
        Assert.Equal(GrantStatus.BadHandle, g.Unmap(handle, g.FreeVa()));
    }

    [Fact]
    public void A_dead_granters_mapped_frame_stays_allocated_until_the_mapper_unmaps()
    {
        var g = new GrantMachine();
        ulong frame = g.Guests[GrantMachine.Granter].Data[3];
        g.Offer(1, GrantMachine.Mapper, frame);
        Assert.Equal(GrantStatus.Okay, g.Map(1, HostRw, g.FreeVa(), out uint handle));
        ulong freeBefore = g.Machine.Allocator.FreeFrames;

        uint held = g.Destroy(GrantMachine.Granter);

        Assert.Equal(1u, held);
        Assert.Equal(GrantMachine.Granter, g.Machine.Frames.OwnerOf(frame));
        Assert.Equal(GrantStatus.BadDomain, g.Map(1, HostRw, g.FreeVa(1), out _));
        Assert.Equal(GrantStatus.Okay, g.Unmap(handle, g.FreeVa()));
        Assert.Equal(DomainIds.Invalid, g.Machine.Frames.OwnerOf(frame));
        Assert.Equal(0u, g.Machine.Frames.OwnedFrames(GrantMachine.Granter));
        Assert.True(g.Machine.Allocator.FreeFrames > freeBefore);
    }

    [Fact]
    public void A_dead_mappers_mappings_are_undone_and_the_granters_entry_is_free_again()
    {
        var g = new GrantMachine();
        ulong frame = g.Guests[GrantMachine.Granter].Data[0];
        FrameInfo before = g.Machine.Frames[frame];
        g.Offer(1, GrantMachine.Mapper, frame);
        Assert.Equal(GrantStatus.Okay, g.Map(1, HostRw, g.FreeVa(), out _));

        Assert.Equal(0u, g.Destroy(GrantMachine.Mapper));

        Assert.Equal(GrantEntry.PermitAccess, GrantEntry.FlagsOf(g.Entry(GrantMachine.Granter, 1)));
        Assert.Equal(before.ReferenceCount, g.Machine.Frames[frame].ReferenceCount);
        Assert.Equal(before.TypeCount, g.Machine.Frames[frame].TypeCount);
    }

    [Fact]
    public void A_mapping_that_goes_with_its_table_is_forgotten_and_its_grant_released()
    {
        var g = new GrantMachine();
        ulong frame = g.Guests[GrantMachine.Granter].Data[0];
        uint before = g.Machine.Frames[frame].ReferenceCount;
        g.Offer(1, GrantMachine.Mapper, frame);
        Assert.Equal(GrantStatus.Okay, g.Map(1, HostRw, g.FreeVa(), out _));

        TlbFlush flush = default;
        var vcpus = new[] { g.Guests[GrantMachine.Mapper].Vcpu };
        // Only the mapper's grant frame, which the kernel still holds, outlives its tables here.
        Assert.Equal(1u, g.Machine.Paging.DestroyDomain(GrantMachine.Mapper, vcpus, ref flush));

        Assert.Equal(0, g.Grants.MappingCount(GrantMachine.Mapper));
        Assert.Equal(GrantEntry.PermitAccess, GrantEntry.FlagsOf(g.Entry(GrantMachine.Granter, 1)));
        Assert.Equal(before, g.Machine.Frames[frame].ReferenceCount);
    }

    [Fact]
    public void Copy_moves_bytes_between_a_grant_and_the_callers_own_frame()
    {
        var g = new GrantMachine();
        ulong source = g.Guests[GrantMachine.Granter].Data[0], destination = g.Guests[GrantMachine.Mapper].Data[0];
        g.Machine.Table(source)[10] = 0x1122334455667788;
        g.Offer(3, GrantMachine.Mapper, source, GrantEntry.PermitAccess | GrantEntry.ReadOnly);
        var op = new GrantCopyRequest
        {
            Source = new GrantCopyPointer { Ref = 3, Domain = GrantMachine.Granter, Offset = 80 },
            Destination = new GrantCopyPointer { Frame = destination, Domain = DomainIds.Self, Offset = 8 },
            Length = 8,
            Flags = GrantCopyRequest.SourceIsRef,
        };

        Assert.Equal(GrantStatus.Okay, g.Copy(op));
        Assert.Equal(0x1122334455667788UL, g.Machine.Table(destination)[1]);
        Assert.Equal(GrantEntry.PermitAccess | GrantEntry.ReadOnly, GrantEntry.FlagsOf(g.Entry(GrantMachine.Granter, 3)));
    }

    [Fact]
    public void Copy_refuses_crossing_a_page_writing_a_read_only_grant_naming_anothers_frame_and_writing_a_table()
    {
        var g = new GrantMachine();
        ulong granted = g.Guests[GrantMachine.Granter].Data[0], own = g.Guests[GrantMachine.Mapper].Data[0];
        g.Offer(3, GrantMachine.Mapper, granted, GrantEntry.PermitAccess | GrantEntry.ReadOnly);
        var byRef = new GrantCopyPointer { Ref = 3, Domain = GrantMachine.Granter };
        var byFrame = new GrantCopyPointer { Frame = own, Domain = DomainIds.Self };
        uint ownTypes = g.Machine.Frames[own].TypeCount;

        Assert.Equal(GrantStatus.BadCopyArg, g.Copy(new() { Source = byRef with { Offset = 4000 }, Destination = byFrame, Length = 100, Flags = GrantCopyRequest.SourceIsRef }));
        Assert.Equal(GrantStatus.GeneralError, g.Copy(new() { Source = byFrame, Destination = byRef, Length = 8, Flags = GrantCopyRequest.DestinationIsRef }));
        Assert.Equal(GrantStatus.PermissionDenied, g.Copy(new() { Source = byFrame with { Domain = GrantMachine.Mapper }, Destination = byFrame, Length = 8 }));
        Assert.Equal(GrantStatus.BadPage, g.Copy(new() { Source = byFrame with { Frame = granted }, Destination = byFrame, Length = 8 }));
        Assert.Equal(GrantStatus.BadPage, g.Copy(new() { Source = byFrame, Destination = byFrame with { Frame = g.Guests[GrantMachine.Mapper].L1 }, Length = 8 }));
        Assert.Equal(GrantStatus.BadGntref, g.Copy(new() { Source = byRef with { Ref = 1 << 20 }, Destination = byFrame, Length = 8, Flags = GrantCopyRequest.SourceIsRef }));
        Assert.Equal(GrantEntry.PermitAccess | GrantEntry.ReadOnly, GrantEntry.FlagsOf(g.Entry(GrantMachine.Granter, 3)));
        Assert.Equal(ownTypes, g.Machine.Frames[own].TypeCount);
    }

    [Fact]
    public void A_mapper_holding_every_handle_gets_no_space_and_the_others_are_unaffected()
    {
        var g = new GrantMachine();
        g.Offer(1, GrantMachine.Mapper, g.Guests[GrantMachine.Granter].Data[0], GrantEntry.PermitAccess | GrantEntry.ReadOnly);
        g.Entry(GrantMachine.Granter, 2) = GrantEntry.Make(GrantEntry.PermitAccess, GrantMachine.Other, (uint)g.Guests[GrantMachine.Granter].Data[1]);
        const uint Device = GrantMapFlags.DeviceMap | GrantMapFlags.ReadOnly;
        for (int i = 0; i < GrantTables<FrameMemory, TestIo>.MaxHandles; i++) Assert.Equal(GrantStatus.Okay, g.Map(1, Device, 0, out _));

        Assert.Equal(GrantStatus.NoSpace, g.Map(1, Device, 0, out _));
        Assert.Equal(GrantStatus.Okay, g.Map(2, HostRw, g.Guests[GrantMachine.Other].Va(16), out _, mapper: GrantMachine.Other));
    }

    [Fact]
    public void Grant_frames_are_the_domains_own_and_can_never_become_tables()
    {
        var g = new GrantMachine();
        ulong frame = g.Grants.FrameOf(GrantMachine.Granter, 0);
        Assert.Equal(GrantMachine.Granter, g.Machine.Frames.OwnerOf(frame));
        Assert.Equal(PageType.Writable, g.Machine.Frames.TypeOf(frame));
        Assert.NotEqual(0, g.Machine.Pin(GrantMachine.Granter, frame, 1));
        Assert.Equal(GrantStatus.GeneralError, g.Grants.Grow(GrantMachine.Granter, GrantTables<FrameMemory, TestIo>.MaxFrames + 1));
        Assert.Equal(GrantStatus.Okay, g.Grants.Grow(GrantMachine.Granter, 3));
        Assert.Equal(3, g.Grants.FrameCount(GrantMachine.Granter));
    }
}

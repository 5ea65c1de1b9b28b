using FsCheck;
using FsCheck.Fluent;
using Keel.Kernel.Io;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Tests;

/// <summary>The pins as the routing logic drives them, with every call recorded.</summary>
internal struct TestPins : IInterruptPins
{
    public List<string> Calls;

    public void Route(int line, bool level, bool activeLow) => Calls.Add($"route {line} {(level ? "level" : "edge")} {(activeLow ? "low" : "high")}");

    public void Mask(int line) => Calls.Add($"mask {line}");

    public void Unmask(int line) => Calls.Add($"unmask {line}");
}

public class DeviceAssignmentTests
{
    private static IoPermissions Permissions()
    {
        var memory = new RangeSet();
        memory.Add(0xFEC00, 0xFEFFF);
        var ports = new RangeSet();
        ports.Add(0xCF8, 0xCFF);
        var lines = new RangeSet();
        lines.Add(4, 4);
        return new IoPermissions(8, [memory, ports, lines], [1UL << 40, 65536, 64]);
    }

    [Fact]
    public void A_range_set_joins_touching_ranges_and_splits_one_when_its_middle_is_removed()
    {
        var set = new RangeSet();
        Assert.True(set.Add(10, 19));
        Assert.True(set.Add(20, 29));
        Assert.Equal(1, set.Count);
        Assert.True(set.Contains(10, 29));
        Assert.True(set.Remove(15, 16));
        Assert.Equal(2, set.Count);
        Assert.False(set.Contains(15));
        Assert.True(set.Contains(14) && set.Contains(17));
        Assert.True(set.Add(0, ulong.MaxValue));
        Assert.Equal(1, set.Count);
        Assert.True(set.Contains(ulong.MaxValue));
    }

    [Fact]
    public void A_full_range_set_refuses_a_new_range_and_a_split_and_stays_as_it_was()
    {
        var set = new RangeSet();
        for (ulong i = 0; i < RangeSet.Capacity; i++) Assert.True(set.Add(i * 10, i * 10 + 5));
        Assert.False(set.Add(1000, 1001));
        Assert.False(set.Remove(2, 3));
        Assert.Equal(RangeSet.Capacity, set.Count);
        Assert.True(set.Contains(0, 5));
        // Removing a whole range needs no new one.
        Assert.True(set.Remove(0, 5));
        Assert.Equal(RangeSet.Capacity - 1, set.Count);
    }

    [FsCheck.Xunit.Property(MaxTest = 300)]
    public Property A_range_set_holds_exactly_the_values_a_plain_set_given_the_same_changes_would()
    {
        var change = Gen.Choose(0, 120).SelectMany(first => Gen.Choose(0, 12).SelectMany(length => Gen.Elements(true, false)
            .Select(add => (First: (ulong)first, Last: (ulong)(first + length), Add: add))));
        return Prop.ForAll(change.ArrayOf().ToArbitrary(), changes =>
        {
            var set = new RangeSet();
            var model = new HashSet<ulong>();
            foreach (var (first, last, add) in changes)
            {
                var before = model.ToHashSet();
                bool done = add ? set.Add(first, last) : set.Remove(first, last);
                if (!done) continue;
                for (ulong v = first; v <= last; v++)
                {
                    if (add) model.Add(v);
                    else model.Remove(v);
                }
            }
            for (ulong v = 0; v < 140; v++)
            {
                if (set.Contains(v) != model.Contains(v)) return false;
            }
            return set.Count <= RangeSet.Capacity;
        });
    }

    [Fact]
    public void The_kernels_own_frames_ports_and_lines_are_never_granted()
    {
        IoPermissions p = Permissions();
        Assert.Equal(Errno.EPERM, p.Change(1, IoResource.Memory, 0xFEE00, 1, allow: true));
        Assert.Equal(Errno.EPERM, p.Change(1, IoResource.Memory, 0xFE000, 0x1000, allow: true));
        Assert.Equal(Errno.EPERM, p.Change(1, IoResource.Ports, 0xCFC, 4, allow: true));
        Assert.Equal(Errno.EPERM, p.Change(1, IoResource.Irqs, 4, 1, allow: true));
        Assert.False(p.HasIoAccess(1));
        Assert.Equal(0, p.Change(1, IoResource.Memory, 0xFEBF0, 4, allow: true));
        Assert.True(p.Permits(1, IoResource.Memory, 0xFEBF0, 0xFEBF3));
        Assert.False(p.Permits(1, IoResource.Memory, 0xFEBF0, 0xFEBF4));
        Assert.False(p.Permits(2, IoResource.Memory, 0xFEBF0, 0xFEBF0));
        Assert.True(p.HasIoAccess(1));
    }

    [Fact]
    public void Empty_wrapping_and_out_of_range_spans_are_refused_and_revoking_what_was_never_given_is_harmless()
    {
        IoPermissions p = Permissions();
        Assert.Equal(Errno.EINVAL, p.Change(1, IoResource.Memory, 5, 0, allow: true));
        Assert.Equal(Errno.EINVAL, p.Change(1, IoResource.Memory, ulong.MaxValue, 2, allow: true));
        Assert.Equal(Errno.EINVAL, p.Change(1, IoResource.Ports, 0xFFFF, 2, allow: true));
        Assert.Equal(Errno.EINVAL, p.Change(1, IoResource.Irqs, 64, 1, allow: true));
        Assert.Equal(Errno.EINVAL, p.Change(9, IoResource.Irqs, 5, 1, allow: true));
        Assert.Equal(0, p.Change(3, IoResource.Irqs, 5, 1, allow: false));
        Assert.Equal(0, p.Change(1, IoResource.Irqs, 11, 1, allow: true));
        Assert.Equal(0, p.Change(1, IoResource.Irqs, 11, 1, allow: false));
        Assert.False(p.Permits(1, IoResource.Irqs, 11, 11));
    }

    [Fact]
    public void An_ending_domain_loses_its_permissions_and_the_next_domain_with_its_id_starts_with_none()
    {
        IoPermissions p = Permissions();
        p.Change(2, IoResource.Memory, 0x1000, 16, allow: true);
        p.Change(2, IoResource.Irqs, 11, 1, allow: true);
        p.RemoveDomain(2);
        Assert.False(p.Permits(2, IoResource.Memory, 0x1000, 0x1000));
        Assert.False(p.Permits(2, IoResource.Irqs, 11, 11));
        Assert.False(p.HasIoAccess(2));
    }

    private const uint Device = (0 << 16) | (0 << 8) | (4 << 3);

    [Fact]
    public void A_device_given_away_belongs_to_one_domain_which_alone_writes_it_and_others_see_no_device()
    {
        var devices = new DeviceAssignments();
        Assert.Equal(0, devices.Assign(Device, 1, [], []));
        Assert.Equal(0, devices.Assign(Device, 1, [], []));
        Assert.Equal(Errno.EBUSY, devices.Assign(Device, 2, [], []));
        Assert.Equal(1, devices.OwnerOf(Device));
        Assert.Equal(0, devices.Check(Device, 1, privileged: false, 0x04, 2, write: true));
        Assert.Equal(Errno.ENODEV, devices.Check(Device, 2, privileged: false, 0x00, 4, write: false));
        Assert.Equal(Errno.ENODEV, devices.Check(Device + 1, 1, privileged: false, 0x00, 4, write: false));
        // The control domain reads every device and writes those it has not given away (BARs included, to size them).
        Assert.Equal(0, devices.Check(Device, 0, privileged: true, 0x00, 4, write: false));
        Assert.Equal(0, devices.Check(Device + 8, 0, privileged: true, 0x00, 4, write: false));
        Assert.Equal(0, devices.Check(Device + 8, 0, privileged: true, 0x10, 4, write: true));
        Assert.Equal(Errno.EPERM, devices.Check(Device, 0, privileged: true, 0x04, 2, write: true));
        Assert.Equal(Errno.EINVAL, devices.Deassign(Device, 2));
        Assert.Equal(0, devices.Deassign(Device, 1));
        Assert.Equal(0, devices.Assign(Device, 2, [], []));
    }

    [Fact]
    public void The_owner_may_not_move_a_bar_or_the_rom_or_touch_msi_and_msix_capabilities()
    {
        var devices = new DeviceAssignments();
        devices.Assign(Device, 1, [0x98, 0x84], [0x98 + 12, 0x84 + 24]);
        foreach (int offset in new[] { 0x10, 0x14, 0x24, 0x30 }) Assert.Equal(Errno.EPERM, devices.Check(Device, 1, false, offset, 4, write: true));
        Assert.Equal(Errno.EPERM, devices.Check(Device, 1, false, 0x27, 1, write: true));
        Assert.Equal(Errno.EPERM, devices.Check(Device, 1, false, 0x9A, 2, write: true));
        Assert.Equal(Errno.EPERM, devices.Check(Device, 1, false, 0x84, 1, write: true));
        Assert.Equal(0, devices.Check(Device, 1, false, 0x28, 4, write: true));
        Assert.Equal(0, devices.Check(Device, 1, false, 0x9C, 4, write: false));
        Assert.Equal(0, devices.Check(Device, 1, false, 0xA4, 4, write: true));
        Assert.Equal(0, devices.Check(Device, 1, false, 0x3C, 1, write: true));
    }

    [Fact]
    public void Only_aligned_accesses_of_one_two_or_four_bytes_inside_the_configuration_space_are_made()
    {
        Assert.Equal(0, DeviceAssignments.CheckShape(0xFC, 4));
        Assert.Equal(Errno.EINVAL, DeviceAssignments.CheckShape(0x02, 4));
        Assert.Equal(Errno.EINVAL, DeviceAssignments.CheckShape(0x01, 2));
        Assert.Equal(Errno.EINVAL, DeviceAssignments.CheckShape(0x00, 3));
        Assert.Equal(Errno.EINVAL, DeviceAssignments.CheckShape(0x100, 1));
        Assert.Equal(Errno.EINVAL, DeviceAssignments.CheckShape(0xFFFF_FFFC, 4));
    }

    [Fact]
    public void An_ending_domains_devices_are_listed_for_quiescing_and_become_free()
    {
        var devices = new DeviceAssignments();
        devices.Assign(Device, 3, [], []);
        devices.Assign(Device + 8, 3, [], []);
        devices.Assign(Device + 16, 4, [], []);
        Span<uint> released = stackalloc uint[DeviceAssignments.Capacity];
        Assert.Equal(2, devices.RemoveDomain(3, released));
        Assert.Equal([Device, Device + 8], released.Slice(0, 2).ToArray());
        Assert.Equal(DomainIds.Invalid, devices.OwnerOf(Device));
        Assert.Equal((ushort)4, devices.OwnerOf(Device + 16));
    }

    private static (InterruptLines<TestPins> Lines, List<string> Calls) Lines()
    {
        var pins = new TestPins { Calls = [] };
        return (new InterruptLines<TestPins>(8, 24, pins), pins.Calls);
    }

    [Fact]
    public void A_level_line_is_masked_when_it_fires_and_unmasked_when_its_domain_ends_it()
    {
        var (lines, calls) = Lines();
        Assert.Equal(Errno.EINVAL, lines.Bind(1, 11, 5, share: false));
        Assert.Equal(11, lines.Map(1, 11));
        Assert.Equal(0, lines.Bind(1, 11, 5, share: false));
        Assert.Equal(Errno.EEXIST, lines.Bind(1, 11, 6, share: false));
        Assert.Equal(["route 11 level high"], calls);
        Span<LineTarget> targets = stackalloc LineTarget[InterruptLines<TestPins>.MaxSharers];
        Assert.Equal(1, lines.Fire(11, targets));
        Assert.Equal((ushort)1, targets[0].Domain);
        Assert.Equal(5, targets[0].Port);
        Assert.Equal("mask 11", calls[^1]);
        Assert.Equal(Errno.EINVAL, lines.EndOfInterrupt(2, 11));
        Assert.Equal(0, lines.EndOfInterrupt(1, 11));
        Assert.Equal("unmask 11", calls[^1]);
        // A second EOI for the same interrupt does not unmask twice.
        int count = calls.Count;
        Assert.Equal(0, lines.EndOfInterrupt(1, 11));
        Assert.Equal(count, calls.Count);
        Assert.True(lines.NeedsEoi(11));
    }

    [Fact]
    public void A_shared_line_is_unmasked_only_after_every_sharer_has_ended_it_or_gone()
    {
        var (lines, calls) = Lines();
        lines.Map(1, 10);
        lines.Map(2, 10);
        lines.Map(3, 10);
        Assert.Equal(0, lines.Bind(1, 10, 7, share: true));
        Assert.Equal(Errno.EBUSY, lines.Bind(3, 10, 9, share: false));
        Assert.Equal(0, lines.Bind(2, 10, 8, share: true));
        Span<LineTarget> targets = stackalloc LineTarget[InterruptLines<TestPins>.MaxSharers];
        Assert.Equal(2, lines.Fire(10, targets));
        lines.EndOfInterrupt(1, 10);
        Assert.Equal("mask 10", calls[^1]);
        lines.RemoveDomain(2);
        Assert.Equal("unmask 10", calls[^1]);
        Assert.Equal(0, lines.PortOf(2, 10));
        Assert.False(lines.IsMapped(2, 10));
    }

    [Fact]
    public void An_unshared_line_refuses_a_second_domain_and_a_line_left_by_everyone_is_masked()
    {
        var (lines, calls) = Lines();
        lines.Map(1, 9);
        lines.Map(2, 9);
        lines.Bind(1, 9, 3, share: false);
        Assert.Equal(Errno.EBUSY, lines.Bind(2, 9, 3, share: true));
        Assert.Equal(Errno.EBUSY, lines.Configure(9, level: false, activeLow: false));
        lines.Unbind(1, 9);
        Assert.Equal("mask 9", calls[^1]);
        Assert.Equal(0, lines.Bind(2, 9, 4, share: false));
        Span<LineTarget> targets = stackalloc LineTarget[InterruptLines<TestPins>.MaxSharers];
        lines.Unbind(2, 9);
        // A stray interrupt on a line nobody holds is masked and goes nowhere.
        Assert.Equal(0, lines.Fire(9, targets));
        Assert.Equal("mask 9", calls[^1]);
        Assert.Equal(Errno.EINVAL, lines.Map(1, 24));
        Assert.Equal(Errno.EINVAL, lines.Unmap(1, 8));
    }

    [Fact]
    public void An_edge_line_is_neither_masked_nor_waits_for_an_end_of_interrupt()
    {
        var (lines, calls) = Lines();
        Assert.Equal(0, lines.Configure(5, level: false, activeLow: false));
        lines.Map(1, 5);
        lines.Bind(1, 5, 2, share: false);
        Span<LineTarget> targets = stackalloc LineTarget[InterruptLines<TestPins>.MaxSharers];
        Assert.Equal(1, lines.Fire(5, targets));
        Assert.Equal(["route 5 edge high"], calls);
        Assert.False(lines.NeedsEoi(5));
    }
}

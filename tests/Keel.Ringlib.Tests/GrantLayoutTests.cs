using System.Runtime.CompilerServices;
using Keel.Ringlib.Xen;
using Xunit;

namespace Keel.Ringlib.Tests;

/// <summary>The grant-table structures as xen/include/public/grant_table.h lays them out for x86-64.</summary>
public sealed class GrantLayoutTests
{
    private static int Offset<TStruct, TField>(ref TStruct s, ref TField field)
        => (int)Unsafe.ByteOffset(ref Unsafe.As<TStruct, byte>(ref s), ref Unsafe.As<TField, byte>(ref field));

    [Fact]
    public void A_map_request_is_32_bytes_with_status_at_18_and_the_handle_at_20()
    {
        var m = default(GrantMapRequest);
        Assert.Equal(32, Unsafe.SizeOf<GrantMapRequest>());
        Assert.Equal(8, Offset(ref m, ref m.Flags));
        Assert.Equal(12, Offset(ref m, ref m.Ref));
        Assert.Equal(16, Offset(ref m, ref m.Domain));
        Assert.Equal(18, Offset(ref m, ref m.Status));
        Assert.Equal(20, Offset(ref m, ref m.Handle));
        Assert.Equal(24, Offset(ref m, ref m.DeviceBusAddress));
    }

    [Fact]
    public void Unmap_setup_and_query_size_have_Xens_offsets()
    {
        var u = default(GrantUnmapRequest);
        Assert.Equal(24, Unsafe.SizeOf<GrantUnmapRequest>());
        Assert.Equal(16, Offset(ref u, ref u.Handle));
        Assert.Equal(20, Offset(ref u, ref u.Status));
        var s = default(GrantSetupTable);
        Assert.Equal(24, Unsafe.SizeOf<GrantSetupTable>());
        Assert.Equal(4, Offset(ref s, ref s.FrameCount));
        Assert.Equal(8, Offset(ref s, ref s.Status));
        Assert.Equal(16, Offset(ref s, ref s.FrameList));
        var q = default(GrantQuerySize);
        Assert.Equal(16, Unsafe.SizeOf<GrantQuerySize>());
        Assert.Equal(8, Offset(ref q, ref q.MaxFrameCount));
        Assert.Equal(12, Offset(ref q, ref q.Status));
    }

    [Fact]
    public void A_copy_is_40_bytes_of_two_16_byte_sides_then_length_flags_and_status()
    {
        var c = default(GrantCopyRequest);
        Assert.Equal(40, Unsafe.SizeOf<GrantCopyRequest>());
        Assert.Equal(16, Offset(ref c, ref c.Destination));
        Assert.Equal(24, Offset(ref c, ref c.Destination.Domain));
        Assert.Equal(26, Offset(ref c, ref c.Destination.Offset));
        Assert.Equal(32, Offset(ref c, ref c.Length));
        Assert.Equal(34, Offset(ref c, ref c.Flags));
        Assert.Equal(36, Offset(ref c, ref c.Status));
    }

    [Fact]
    public void A_v1_entry_packs_flags_domain_and_frame_into_one_little_endian_word()
    {
        ulong entry = GrantEntry.Make(GrantEntry.PermitAccess | GrantEntry.ReadOnly, 7, 0x12345);
        Assert.Equal(0x0001234500070005UL, entry);
        Assert.Equal(7, GrantEntry.DomainOf(entry));
        Assert.Equal(0x12345u, GrantEntry.FrameOf(entry));
        Assert.Equal(512, GrantEntry.PerFrame);
    }
}

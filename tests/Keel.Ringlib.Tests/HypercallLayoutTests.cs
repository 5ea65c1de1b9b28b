using System.Runtime.CompilerServices;
using Keel.Ringlib.Xen;
using Xunit;

namespace Keel.Ringlib.Tests;

/// <summary>The hypercall argument structs as Xen lays them out for x86-64 (xen/include/public/memory.h, xen.h).</summary>
public sealed class HypercallLayoutTests
{
    private static int Offset<TStruct, TField>(ref TStruct s, ref TField field)
        => (int)Unsafe.ByteOffset(ref Unsafe.As<TStruct, byte>(ref s), ref Unsafe.As<TField, byte>(ref field));

    [Fact]
    public void A_memory_reservation_is_32_bytes_with_the_domain_id_at_24()
    {
        var r = default(MemoryReservation);
        Assert.Equal(32, Unsafe.SizeOf<MemoryReservation>());
        Assert.Equal(0, Offset(ref r, ref r.ExtentStart));
        Assert.Equal(8, Offset(ref r, ref r.NrExtents));
        Assert.Equal(16, Offset(ref r, ref r.ExtentOrder));
        Assert.Equal(20, Offset(ref r, ref r.MemFlags));
        Assert.Equal(24, Offset(ref r, ref r.DomainId));
    }

    [Fact]
    public void A_multicall_entry_is_64_bytes_op_result_then_six_arguments()
    {
        var e = default(MulticallEntry);
        Assert.Equal(64, Unsafe.SizeOf<MulticallEntry>());
        Assert.Equal(0, Offset(ref e, ref e.Op));
        Assert.Equal(8, Offset(ref e, ref e.Result));
        Assert.Equal(16, Offset(ref e, ref e.Arg1));
        Assert.Equal(56, Offset(ref e, ref e.Arg6));
    }

    [Fact]
    public void Memory_flags_decode_as_Xens_macros_do()
    {
        // XENMEMF_node(n) is (n + 1) << 8; no node reads back as 0xff (NUMA_NO_NODE).
        Assert.Equal(MemoryFlags.AnyNode, MemoryFlags.Node(0));
        Assert.Equal(3u, MemoryFlags.Node(4u << 8));
        Assert.Equal(32u, MemoryFlags.AddressBits(32 | (4u << 8) | MemoryFlags.ExactNodeRequest));
        Assert.Equal(0x3FUL, MemoryCommand.CommandMask);
    }
}

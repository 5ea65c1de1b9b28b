using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Keel.Ringlib.Protocols;
using Xunit;

namespace Keel.Ringlib.Tests;

/// <summary>Every size, offset and number below is Xen's (io/ring.h, io/blkif.h, io/netif.h, io/xs_wire.h,
/// io/xenbus.h, laid out by the x86-64 C ABI). A change to a wire struct that breaks compatibility fails here.</summary>
public sealed unsafe class LayoutTests
{
    private static int Offset<TStruct, TField>(ref TStruct s, ref TField field)
        => (int)Unsafe.ByteOffset(ref Unsafe.As<TStruct, byte>(ref s), ref Unsafe.As<TField, byte>(ref field));

    [Fact]
    public void The_shared_ring_header_is_64_bytes_with_the_four_indices_first()
    {
        var h = default(SharedRingHeader);
        Assert.Equal(64, Unsafe.SizeOf<SharedRingHeader>());
        Assert.Equal(0, Offset(ref h, ref h.RequestProducer));
        Assert.Equal(4, Offset(ref h, ref h.RequestEvent));
        Assert.Equal(8, Offset(ref h, ref h.ResponseProducer));
        Assert.Equal(12, Offset(ref h, ref h.ResponseEvent));
        Assert.Equal(64u, RingGeometry.HeaderBytes);
    }

    [Fact]
    public void A_blkif_segment_is_8_bytes()
    {
        var s = default(BlkifSegment);
        Assert.Equal(8, Unsafe.SizeOf<BlkifSegment>());
        Assert.Equal(0, Offset(ref s, ref s.GrantRef));
        Assert.Equal(4, Offset(ref s, ref s.FirstSector));
        Assert.Equal(5, Offset(ref s, ref s.LastSector));
    }

    [Fact]
    public void A_blkif_request_is_112_bytes_with_eleven_segments_from_offset_24()
    {
        var r = default(BlkifRequest);
        Assert.Equal(112, Unsafe.SizeOf<BlkifRequest>());
        Assert.Equal(0, Offset(ref r, ref r.Operation));
        Assert.Equal(1, Offset(ref r, ref r.SegmentCount));
        Assert.Equal(2, Offset(ref r, ref r.Handle));
        Assert.Equal(8, Offset(ref r, ref r.Id));
        Assert.Equal(16, Offset(ref r, ref r.SectorNumber));

        Assert.True(r.SetSegment(0, new BlkifSegment(0x11223344, 2, 5)));
        Assert.True(r.SetSegment(10, new BlkifSegment(0xA1B2C3D4, 6, 7)));
        byte* bytes = (byte*)Unsafe.AsPointer(ref r);
        Assert.Equal(0x11223344u, *(uint*)(bytes + 24));
        Assert.Equal(2, bytes[28]);
        Assert.Equal(5, bytes[29]);
        Assert.Equal(0xA1B2C3D4u, *(uint*)(bytes + 24 + 10 * 8));
        Assert.Equal(6, bytes[24 + 10 * 8 + 4]);
        Assert.Equal(7, bytes[24 + 10 * 8 + 5]);
        Assert.Equal(new BlkifSegment(0xA1B2C3D4, 6, 7), r.GetSegment(10));
    }

    [Fact]
    public void Blkif_segment_accessors_refuse_indices_outside_the_eleven_slots()
    {
        var r = default(BlkifRequest);
        Assert.False(r.SetSegment(11, new BlkifSegment(1, 0, 7)));
        Assert.False(r.SetSegment(-1, new BlkifSegment(1, 0, 7)));
        Assert.Equal(default, r.GetSegment(11));
        Assert.Equal(default, r.GetSegment(-1));
        Assert.Equal(default, r);
    }

    [Fact]
    public void A_blkif_discard_request_is_32_bytes()
    {
        var d = default(BlkifDiscardRequest);
        Assert.Equal(32, Unsafe.SizeOf<BlkifDiscardRequest>());
        Assert.Equal(0, Offset(ref d, ref d.Operation));
        Assert.Equal(1, Offset(ref d, ref d.Flag));
        Assert.Equal(2, Offset(ref d, ref d.Handle));
        Assert.Equal(8, Offset(ref d, ref d.Id));
        Assert.Equal(16, Offset(ref d, ref d.SectorNumber));
        Assert.Equal(24, Offset(ref d, ref d.SectorCount));
    }

    [Fact]
    public void A_blkif_indirect_request_is_64_bytes_with_eight_page_grants_from_offset_28()
    {
        var i = default(BlkifIndirectRequest);
        Assert.Equal(64, Unsafe.SizeOf<BlkifIndirectRequest>());
        Assert.Equal(0, Offset(ref i, ref i.Operation));
        Assert.Equal(1, Offset(ref i, ref i.IndirectOperation));
        Assert.Equal(2, Offset(ref i, ref i.SegmentCount));
        Assert.Equal(8, Offset(ref i, ref i.Id));
        Assert.Equal(16, Offset(ref i, ref i.SectorNumber));
        Assert.Equal(24, Offset(ref i, ref i.Handle));

        Assert.True(i.SetIndirectGrant(0, 0xCAFE0001));
        Assert.True(i.SetIndirectGrant(7, 0xCAFE0008));
        Assert.False(i.SetIndirectGrant(8, 1));
        byte* bytes = (byte*)Unsafe.AsPointer(ref i);
        Assert.Equal(0xCAFE0001u, *(uint*)(bytes + 28));
        Assert.Equal(0xCAFE0008u, *(uint*)(bytes + 28 + 7 * 4));
    }

    [Fact]
    public void The_discard_and_indirect_forms_are_readings_of_the_same_slot()
    {
        var indirect = new BlkifIndirectRequest
        {
            Operation = (byte)BlkifOperation.Indirect,
            IndirectOperation = (byte)BlkifOperation.Write,
            SegmentCount = 300,
            Id = 77,
            SectorNumber = 1234,
            Handle = 5,
        };
        indirect.SetIndirectGrant(3, 99);
        BlkifRequest slot = BlkifRequest.FromIndirect(indirect);
        Assert.Equal((byte)BlkifOperation.Indirect, slot.Operation);
        Assert.Equal(77ul, slot.Id);
        Assert.Equal(1234ul, slot.SectorNumber);
        BlkifIndirectRequest back = slot.AsIndirect();
        Assert.Equal(300, back.SegmentCount);
        Assert.Equal(5, back.Handle);
        Assert.Equal(99u, back.GetIndirectGrant(3));

        var discard = new BlkifDiscardRequest { Operation = (byte)BlkifOperation.Discard, Flag = Blkif.DiscardSecure, Id = 8, SectorNumber = 16, SectorCount = 4096 };
        BlkifDiscardRequest again = BlkifRequest.FromDiscard(discard).AsDiscard();
        Assert.Equal(discard, again);
    }

    [Fact]
    public void A_blkif_response_is_16_bytes_with_the_status_at_offset_10()
    {
        var r = default(BlkifResponse);
        Assert.Equal(16, Unsafe.SizeOf<BlkifResponse>());
        Assert.Equal(0, Offset(ref r, ref r.Id));
        Assert.Equal(8, Offset(ref r, ref r.Operation));
        Assert.Equal(10, Offset(ref r, ref r.Status));
    }

    [Fact]
    public void A_one_page_blkif_ring_holds_32_requests_and_larger_orders_scale_by_powers_of_two()
    {
        Assert.Equal(112u, RingGeometry.EntryBytes<BlkifRequest, BlkifResponse>());
        Assert.Equal(32u, RingGeometry.EntryCount<BlkifRequest, BlkifResponse>(4096));
        Assert.Equal((uint)Blkif.RequestsPerPageRing, RingGeometry.EntryCount<BlkifRequest, BlkifResponse>(4096));
        Assert.Equal(64u, RingGeometry.EntryCount<BlkifRequest, BlkifResponse>(2 * 4096));
        Assert.Equal(128u, RingGeometry.EntryCount<BlkifRequest, BlkifResponse>(4 * 4096));
        Assert.Equal(1024u, RingGeometry.EntryCount<BlkifRequest, BlkifResponse>(32 * 4096));
    }

    [Fact]
    public void Blkif_numbers_are_Xens()
    {
        Assert.Equal(0, (int)BlkifOperation.Read);
        Assert.Equal(1, (int)BlkifOperation.Write);
        Assert.Equal(2, (int)BlkifOperation.WriteBarrier);
        Assert.Equal(3, (int)BlkifOperation.FlushDiskCache);
        Assert.Equal(4, (int)BlkifOperation.Reserved1);
        Assert.Equal(5, (int)BlkifOperation.Discard);
        Assert.Equal(6, (int)BlkifOperation.Indirect);
        Assert.Equal(0, (int)BlkifStatus.Okay);
        Assert.Equal(-1, (int)BlkifStatus.Error);
        Assert.Equal(-2, (int)BlkifStatus.NotSupported);
        Assert.Equal(11, Blkif.MaxSegmentsPerRequest);
        Assert.Equal(8, Blkif.MaxIndirectPagesPerRequest);
        Assert.Equal(512, Blkif.SegmentsPerIndirectPage);
        Assert.Equal(4096, Blkif.SegmentsPerIndirectPage * Unsafe.SizeOf<BlkifSegment>());
        Assert.Equal(512, Blkif.SectorBytes);
        Assert.Equal(1, Blkif.DiscardSecure);
        Assert.Equal(1u, Blkif.VdiskCdrom);
        Assert.Equal(2u, Blkif.VdiskRemovable);
        Assert.Equal(4u, Blkif.VdiskReadOnly);
    }

    [Fact]
    public void Netif_transmit_request_and_response_are_12_and_4_bytes()
    {
        var t = default(NetifTxRequest);
        Assert.Equal(12, Unsafe.SizeOf<NetifTxRequest>());
        Assert.Equal(0, Offset(ref t, ref t.GrantRef));
        Assert.Equal(4, Offset(ref t, ref t.Offset));
        Assert.Equal(6, Offset(ref t, ref t.Flags));
        Assert.Equal(8, Offset(ref t, ref t.Id));
        Assert.Equal(10, Offset(ref t, ref t.Size));

        var r = default(NetifTxResponse);
        Assert.Equal(4, Unsafe.SizeOf<NetifTxResponse>());
        Assert.Equal(0, Offset(ref r, ref r.Id));
        Assert.Equal(2, Offset(ref r, ref r.Status));
    }

    [Fact]
    public void Netif_receive_request_and_response_are_8_bytes_each()
    {
        var q = default(NetifRxRequest);
        Assert.Equal(8, Unsafe.SizeOf<NetifRxRequest>());
        Assert.Equal(0, Offset(ref q, ref q.Id));
        Assert.Equal(4, Offset(ref q, ref q.GrantRef));

        var r = default(NetifRxResponse);
        Assert.Equal(8, Unsafe.SizeOf<NetifRxResponse>());
        Assert.Equal(0, Offset(ref r, ref r.Id));
        Assert.Equal(2, Offset(ref r, ref r.Offset));
        Assert.Equal(4, Offset(ref r, ref r.Flags));
        Assert.Equal(6, Offset(ref r, ref r.Status));
    }

    [Fact]
    public void A_netif_extra_info_record_is_8_bytes_with_its_union_at_offset_2()
    {
        var e = default(NetifExtraInfo);
        Assert.Equal(8, Unsafe.SizeOf<NetifExtraInfo>());
        Assert.Equal(0, Offset(ref e, ref e.Type));
        Assert.Equal(1, Offset(ref e, ref e.Flags));
        Assert.Equal(2, Offset(ref e, ref e.GsoSize));
        Assert.Equal(4, Offset(ref e, ref e.GsoType));
        Assert.Equal(5, Offset(ref e, ref e.GsoPad));
        Assert.Equal(6, Offset(ref e, ref e.GsoFeatures));
        Assert.Equal(2, Offset(ref e, ref e.HashType));
        Assert.Equal(3, Offset(ref e, ref e.HashAlgorithm));
        byte* bytes = (byte*)Unsafe.AsPointer(ref e);
        Assert.Equal(2, (int)(e.MulticastAddress - bytes));
        Assert.Equal(4, (int)(e.HashValue - bytes));
        Assert.True(Unsafe.SizeOf<NetifExtraInfo>() <= Unsafe.SizeOf<NetifTxRequest>());
        Assert.True(Unsafe.SizeOf<NetifExtraInfo>() <= Unsafe.SizeOf<NetifRxResponse>());
    }

    [Fact]
    public void One_page_netif_rings_hold_256_slots()
    {
        Assert.Equal(12u, RingGeometry.EntryBytes<NetifTxRequest, NetifTxResponse>());
        Assert.Equal(8u, RingGeometry.EntryBytes<NetifRxRequest, NetifRxResponse>());
        Assert.Equal(256u, RingGeometry.EntryCount<NetifTxRequest, NetifTxResponse>(4096));
        Assert.Equal(256u, RingGeometry.EntryCount<NetifRxRequest, NetifRxResponse>(4096));
        Assert.Equal((uint)Netif.EntriesPerPageRing, RingGeometry.EntryCount<NetifTxRequest, NetifTxResponse>(4096));
    }

    [Fact]
    public void Netif_numbers_are_Xens()
    {
        Assert.Equal(1, NetTxFlags.ChecksumBlank);
        Assert.Equal(2, NetTxFlags.DataValidated);
        Assert.Equal(4, NetTxFlags.MoreData);
        Assert.Equal(8, NetTxFlags.ExtraInfo);
        Assert.Equal(1, NetRxFlags.DataValidated);
        Assert.Equal(2, NetRxFlags.ChecksumBlank);
        Assert.Equal(4, NetRxFlags.MoreData);
        Assert.Equal(8, NetRxFlags.ExtraInfo);
        Assert.Equal(16, NetRxFlags.GsoPrefix);
        Assert.Equal(-2, (int)NetifStatus.Dropped);
        Assert.Equal(-1, (int)NetifStatus.Error);
        Assert.Equal(0, (int)NetifStatus.Okay);
        Assert.Equal(1, (int)NetifStatus.Null);
        Assert.Equal(1, (int)NetifExtraType.Gso);
        Assert.Equal(2, (int)NetifExtraType.MulticastAdd);
        Assert.Equal(3, (int)NetifExtraType.MulticastDelete);
        Assert.Equal(4, (int)NetifExtraType.Hash);
        Assert.Equal(5, (int)NetifExtraType.Max);
        Assert.Equal(1, NetifExtraFlags.More);
        Assert.Equal(1, (int)NetifGsoType.TcpV4);
        Assert.Equal(2, (int)NetifGsoType.TcpV6);
        Assert.Equal(18, Netif.MaxSlotsPerPacket);
        Assert.Equal(0xFFFF, Netif.MaxTxSize);
    }

    [Fact]
    public void The_store_message_header_is_16_bytes()
    {
        var h = default(StoreMessageHeader);
        Assert.Equal(16, Unsafe.SizeOf<StoreMessageHeader>());
        Assert.Equal(0, Offset(ref h, ref h.Type));
        Assert.Equal(4, Offset(ref h, ref h.RequestId));
        Assert.Equal(8, Offset(ref h, ref h.TransactionId));
        Assert.Equal(12, Offset(ref h, ref h.Length));
    }

    [Fact]
    public void The_store_page_has_two_1KiB_rings_then_the_indices_at_2048()
    {
        var p = default(StoreRingPage);
        Assert.Equal(2072, Unsafe.SizeOf<StoreRingPage>());
        byte* bytes = (byte*)Unsafe.AsPointer(ref p);
        Assert.Equal(0, (int)(p.Request - bytes));
        Assert.Equal(1024, (int)(p.Response - bytes));
        Assert.Equal(2048, Offset(ref p, ref p.RequestConsumer));
        Assert.Equal(2052, Offset(ref p, ref p.RequestProducer));
        Assert.Equal(2056, Offset(ref p, ref p.ResponseConsumer));
        Assert.Equal(2060, Offset(ref p, ref p.ResponseProducer));
        Assert.Equal(2064, Offset(ref p, ref p.ServerFeatures));
        Assert.Equal(2068, Offset(ref p, ref p.Connection));
    }

    [Fact]
    public void Store_message_types_are_Xens()
    {
        Assert.Equal(0u, (uint)StoreMessageType.Control);
        Assert.Equal(1u, (uint)StoreMessageType.Directory);
        Assert.Equal(2u, (uint)StoreMessageType.Read);
        Assert.Equal(3u, (uint)StoreMessageType.GetPermissions);
        Assert.Equal(4u, (uint)StoreMessageType.Watch);
        Assert.Equal(5u, (uint)StoreMessageType.Unwatch);
        Assert.Equal(6u, (uint)StoreMessageType.TransactionStart);
        Assert.Equal(7u, (uint)StoreMessageType.TransactionEnd);
        Assert.Equal(8u, (uint)StoreMessageType.Introduce);
        Assert.Equal(9u, (uint)StoreMessageType.Release);
        Assert.Equal(10u, (uint)StoreMessageType.GetDomainPath);
        Assert.Equal(11u, (uint)StoreMessageType.Write);
        Assert.Equal(12u, (uint)StoreMessageType.Mkdir);
        Assert.Equal(13u, (uint)StoreMessageType.Remove);
        Assert.Equal(14u, (uint)StoreMessageType.SetPermissions);
        Assert.Equal(15u, (uint)StoreMessageType.WatchEvent);
        Assert.Equal(16u, (uint)StoreMessageType.Error);
        Assert.Equal(17u, (uint)StoreMessageType.IsDomainIntroduced);
        Assert.Equal(18u, (uint)StoreMessageType.Resume);
        Assert.Equal(19u, (uint)StoreMessageType.SetTarget);
        Assert.Equal(21u, (uint)StoreMessageType.ResetWatches);
        Assert.Equal(22u, (uint)StoreMessageType.DirectoryPart);
        Assert.Equal(0xFFFFu, (uint)StoreMessageType.Invalid);
        Assert.Equal(1024u, Store.RingBytes);
        Assert.Equal(4096u, Store.PayloadMax);
    }

    [Fact]
    public void XenBus_states_are_Xens()
    {
        Assert.Equal(0u, (uint)XenbusState.Unknown);
        Assert.Equal(1u, (uint)XenbusState.Initialising);
        Assert.Equal(2u, (uint)XenbusState.InitWait);
        Assert.Equal(3u, (uint)XenbusState.Initialised);
        Assert.Equal(4u, (uint)XenbusState.Connected);
        Assert.Equal(5u, (uint)XenbusState.Closing);
        Assert.Equal(6u, (uint)XenbusState.Closed);
        Assert.Equal(7u, (uint)XenbusState.Reconfiguring);
        Assert.Equal(8u, (uint)XenbusState.Reconfigured);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TwelveBytesAlignedTo4
    {
        public uint A;
        public uint B;
        public uint C;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct EightBytesAlignedTo8
    {
        public ulong A;
    }

    [Fact]
    public void A_slot_is_the_size_of_the_C_union_rounded_up_to_the_stricter_alignment()
    {
        Assert.Equal(4u, RingGeometry.AlignmentOf<TwelveBytesAlignedTo4>());
        Assert.Equal(8u, RingGeometry.AlignmentOf<EightBytesAlignedTo8>());
        Assert.Equal(8u, RingGeometry.AlignmentOf<BlkifRequest>());
        Assert.Equal(2u, RingGeometry.AlignmentOf<NetifExtraInfo>());
        Assert.Equal(16u, RingGeometry.EntryBytes<TwelveBytesAlignedTo4, EightBytesAlignedTo8>());
        Assert.Equal(16u, RingGeometry.EntryBytes<EightBytesAlignedTo8, TwelveBytesAlignedTo4>());
    }

    [Theory]
    [InlineData(0u, 0u)]
    [InlineData(1u, 1u)]
    [InlineData(2u, 2u)]
    [InlineData(3u, 2u)]
    [InlineData(36u, 32u)]
    [InlineData(336u, 256u)]
    [InlineData(0xFFFFFFFFu, 0x80000000u)]
    public void Slot_counts_round_down_to_a_power_of_two(uint x, uint expected)
        => Assert.Equal(expected, RingGeometry.RoundDownToPowerOfTwo(x));

    [Fact]
    public void A_region_too_small_for_one_slot_has_no_ring()
    {
        Assert.Equal(0u, RingGeometry.EntryCount(64 + 111, 112));
        Assert.Equal(1u, RingGeometry.EntryCount(64 + 112, 112));
        Assert.Equal(0u, RingGeometry.EntryCount(10, 8));
        Assert.Equal(0u, RingGeometry.EntryCount(4096, 0));
    }
}

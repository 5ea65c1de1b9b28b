using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Keel.Ringlib.Protocols;
using Keel.Ringlib.Tests.Support;
using Xunit;

namespace Keel.Ringlib.Tests;

public sealed record ByteRingScenario(uint Start, int[] Transfers)
{
    public override string ToString() => $"start=0x{Start:X8} transfers=[{string.Join(",", Transfers)}]";
}

public sealed record HostileIndices(uint Consumer, uint Producer, int Length)
{
    public override string ToString() => $"cons=0x{Consumer:X8} prod=0x{Producer:X8} length={Length}";
}

public static class StoreGenerators
{
    /// <summary>Positive numbers write that many bytes, negative numbers read that many.</summary>
    public static Arbitrary<ByteRingScenario> Scenario()
    {
        Gen<int> transfer = Gen.Frequency((3, Gen.Choose(-1500, 1500)), (2, Gen.Choose(-20, 20)));
        return (from start in FifoScenarios.Starts
                from transfers in transfer.ArrayOf()
                select new ByteRingScenario(start, transfers)).ToArbitrary();
    }

    public static Arbitrary<HostileIndices> Indices()
    {
        Gen<uint> any = ArbMap.Default.GeneratorFor<uint>();
        return (from cons in any
                from delta in Gen.Frequency((3, Gen.Choose(-5, 1100).Select(d => unchecked((uint)d))), (1, any))
                from length in Gen.Choose(0, 5000)
                select new HostileIndices(cons, cons + delta, length)).ToArbitrary();
    }
}

/// <summary>The store page's byte rings and the store message header.</summary>
public sealed unsafe class StoreTests
{
    [Property(Arbitrary = new[] { typeof(StoreGenerators) }, MaxTest = 300)]
    public void A_byte_ring_behaves_like_a_1KiB_fifo_of_bytes_across_the_index_wrap(ByteRingScenario scenario)
    {
        using var region = new GuardedRegion((uint)Unsafe.SizeOf<StoreRingPage>());
        var page = (StoreRingPage*)region.Pointer;
        page->RequestConsumer = scenario.Start;
        page->RequestProducer = scenario.Start;
        StoreByteRing ring = StoreByteRing.Requests(page);
        var model = new Queue<byte>();
        byte next = 0;
        foreach (int transfer in scenario.Transfers)
        {
            if (transfer >= 0)
            {
                var data = new byte[transfer];
                for (int i = 0; i < data.Length; i++)
                {
                    data[i] = next++;
                }

                Assert.Equal(StoreRingStatus.Ok, ring.Write(data, out int written));
                Assert.Equal(Math.Min(transfer, 1024 - model.Count), written);
                for (int i = 0; i < written; i++)
                {
                    model.Enqueue(data[i]);
                }

                next = (byte)(next - (transfer - written));
            }
            else
            {
                var data = new byte[-transfer];
                Assert.Equal(StoreRingStatus.Ok, ring.Read(data, out int read));
                Assert.Equal(Math.Min(-transfer, model.Count), read);
                for (int i = 0; i < read; i++)
                {
                    Assert.Equal(model.Dequeue(), data[i]);
                }
            }

            Assert.Equal(StoreRingStatus.Ok, ring.Queued(out uint queued));
            Assert.Equal((uint)model.Count, queued);
        }

        // The other direction's ring and the indices of this one were never written past.
        Assert.Equal(0u, page->ResponseProducer);
        Assert.Equal(0u, page->ResponseConsumer);
    }

    [Property(Arbitrary = new[] { typeof(StoreGenerators) }, MaxTest = 1000)]
    public void Indices_claiming_more_than_1KiB_are_refused_and_no_index_leads_outside_the_ring(HostileIndices indices)
    {
        using var region = new GuardedRegion((uint)Unsafe.SizeOf<StoreRingPage>());
        var page = (StoreRingPage*)region.Pointer;
        new Span<byte>(page->Response, 1024).Fill(0x5A);
        page->ResponseConsumer = indices.Consumer;
        page->ResponseProducer = indices.Producer;
        StoreByteRing ring = StoreByteRing.Responses(page);
        bool lying = indices.Producer - indices.Consumer > 1024;

        var buffer = new byte[indices.Length];
        StoreRingStatus readStatus = ring.Read(buffer, out int read);
        Assert.Equal(lying ? StoreRingStatus.Corrupt : StoreRingStatus.Ok, readStatus);
        Assert.Equal(lying ? 0 : (int)Math.Min((uint)indices.Length, indices.Producer - indices.Consumer), read);
        Assert.Equal(indices.Consumer + (uint)read, page->ResponseConsumer);
        for (int i = 0; i < read; i++)
        {
            Assert.Equal(0x5A, buffer[i]);
        }

        page->ResponseConsumer = indices.Consumer;
        StoreRingStatus writeStatus = ring.Write(buffer, out int written);
        Assert.Equal(lying ? StoreRingStatus.Corrupt : StoreRingStatus.Ok, writeStatus);
        Assert.Equal(lying ? 0 : (int)Math.Min((uint)indices.Length, 1024 - (indices.Producer - indices.Consumer)), written);
        Assert.Equal(indices.Producer + (uint)written, page->ResponseProducer);
        // The request ring next door is untouched.
        for (int i = 0; i < 1024; i++)
        {
            Assert.Equal(0, page->Request[i]);
        }
    }

    [Fact]
    public void A_message_header_round_trips_in_little_endian()
    {
        var header = new StoreMessageHeader { Type = (uint)StoreMessageType.Write, RequestId = 0x01020304, TransactionId = 9, Length = 4096 };
        var bytes = new byte[16];
        Assert.True(header.TryWrite(bytes));
        Assert.Equal(new byte[] { 11, 0, 0, 0, 4, 3, 2, 1, 9, 0, 0, 0, 0, 16, 0, 0 }, bytes);
        Assert.Equal(StoreHeaderError.None, StoreMessageHeader.TryRead(bytes, out StoreMessageHeader back));
        Assert.Equal(header, back);
        Assert.False(header.TryWrite(new byte[15]));
    }

    [Fact]
    public void A_message_header_is_refused_when_short_oversized_or_of_unknown_type()
    {
        var bytes = new byte[16];
        Assert.Equal(StoreHeaderError.Truncated, StoreMessageHeader.TryRead(bytes.AsSpan(0, 15), out _));
        new StoreMessageHeader { Type = 2, Length = 4097 }.TryWrite(bytes);
        Assert.Equal(StoreHeaderError.PayloadTooLarge, StoreMessageHeader.TryRead(bytes, out _));
        new StoreMessageHeader { Type = 20, RequestId = 5, Length = 1 }.TryWrite(bytes);
        Assert.Equal(StoreHeaderError.UnknownType, StoreMessageHeader.TryRead(bytes, out StoreMessageHeader unknown));
        Assert.Equal(1u, unknown.Length);
        Assert.Equal(5u, unknown.RequestId);
        new StoreMessageHeader { Type = 23, Length = 1 }.TryWrite(bytes);
        Assert.Equal(StoreHeaderError.UnknownType, StoreMessageHeader.TryRead(bytes, out _));
        new StoreMessageHeader { Type = 22, Length = 1 }.TryWrite(bytes);
        Assert.Equal(StoreHeaderError.None, StoreMessageHeader.TryRead(bytes, out _));
    }

    [Fact]
    public void Error_replies_name_their_errno_as_on_the_wire()
    {
        Assert.True(Store.ErrorName(StoreError.ENOENT).SequenceEqual("ENOENT"u8));
        Assert.True(Store.ErrorName(StoreError.E2BIG).SequenceEqual("E2BIG"u8));
        Assert.Equal(0, Store.ErrorName(StoreError.None).Length);
        Assert.Equal(StoreError.EACCES, Store.ParseErrorName("EACCES\0"u8));
        Assert.Equal(StoreError.EAGAIN, Store.ParseErrorName("EAGAIN"u8));
        Assert.Equal(StoreError.None, Store.ParseErrorName("EAGAINX"u8));
        Assert.Equal(StoreError.None, Store.ParseErrorName(ReadOnlySpan<byte>.Empty));
        foreach (StoreError error in Enum.GetValues<StoreError>())
        {
            if (error != StoreError.None)
            {
                Assert.Equal(error, Store.ParseErrorName(Store.ErrorName(error)));
            }
        }
    }
}

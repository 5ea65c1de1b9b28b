using System;
using System.Runtime.CompilerServices;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Keel.Ringlib.Protocols;
using Xunit;

namespace Keel.Ringlib.Tests;

public sealed record RawBlkifSlot(byte[] Bytes, BlkifDeviceLimits Device)
{
    public override string ToString() => Convert.ToHexString(Bytes) + " capacity=" + Device.CapacitySectors + " ro=" + Device.ReadOnly
        + " flush=" + Device.SupportsFlush + " barrier=" + Device.SupportsBarrier + " discard=" + Device.SupportsDiscard + " indirect=" + Device.MaxIndirectSegments;
}

public sealed record ValidReadWrite(BlkifRequest Request, BlkifDeviceLimits Device, ulong Sectors)
{
    public override string ToString() => "op=" + Request.Operation + " segs=" + Request.SegmentCount + " sector=" + Request.SectorNumber + " capacity=" + Device.CapacitySectors;
}

public static class BlkifGenerators
{
    private static Gen<BlkifDeviceLimits> Devices =>
        from capacity in Gen.Elements(0ul, 1ul, 8ul, 1000ul, 1ul << 21, ulong.MaxValue)
        from readOnly in ArbMap.Default.GeneratorFor<bool>()
        from flush in ArbMap.Default.GeneratorFor<bool>()
        from barrier in ArbMap.Default.GeneratorFor<bool>()
        from discard in ArbMap.Default.GeneratorFor<bool>()
        from indirect in Gen.Elements((ushort)0, (ushort)32, (ushort)256, (ushort)4096, ushort.MaxValue)
        select new BlkifDeviceLimits
        {
            CapacitySectors = capacity,
            ReadOnly = readOnly,
            SupportsFlush = flush,
            SupportsBarrier = barrier,
            SupportsDiscard = discard,
            MaxIndirectSegments = indirect,
        };

    /// <summary>Arbitrary bytes, nudged so that the interesting operation codes and small counts are common.</summary>
    public static Arbitrary<RawBlkifSlot> Raw()
    {
        Gen<RawBlkifSlot> gen =
            from bytes in ArbMap.Default.GeneratorFor<byte>().ArrayOf(112)
            from op in Gen.Frequency((5, Gen.Choose(0, 7)), (1, Gen.Choose(0, 255)))
            from count in Gen.Frequency((5, Gen.Choose(0, 12)), (1, Gen.Choose(0, 255)))
            from smallSector in ArbMap.Default.GeneratorFor<bool>()
            from device in Devices
            select new RawBlkifSlot(Shape(bytes, (byte)op, (byte)count, smallSector), device);
        return gen.ToArbitrary();
    }

    private static byte[] Shape(byte[] bytes, byte op, byte count, bool smallSector)
    {
        bytes[0] = op;
        bytes[1] = count;
        if (smallSector)
        {
            // Sector number (and the discard's sector count) small enough to land on a device now and then.
            BitConverter.GetBytes((ulong)bytes[16] * 3).CopyTo(bytes, 16);
            BitConverter.GetBytes((ulong)bytes[24] % 16).CopyTo(bytes, 24);
            for (int i = 0; i < 11; i++)
            {
                bytes[24 + i * 8 + 4] %= 8;
                bytes[24 + i * 8 + 5] %= 8;
            }
        }

        return bytes;
    }

    public static Arbitrary<ValidReadWrite> Valid()
    {
        Gen<BlkifSegment> segment =
            from gref in ArbMap.Default.GeneratorFor<uint>()
            from first in Gen.Choose(0, 7)
            from last in Gen.Choose(first, 7)
            select new BlkifSegment(gref, (byte)first, (byte)last);
        Gen<ValidReadWrite> gen =
            from write in ArbMap.Default.GeneratorFor<bool>()
            from segments in segment.ArrayOf().Where(a => a.Length >= 1 && a.Length <= 11)
            from slack in Gen.Choose(0, 1000)
            from id in ArbMap.Default.GeneratorFor<ulong>()
            from handle in ArbMap.Default.GeneratorFor<ushort>()
            select Build(write, segments, (ulong)slack, id, handle);
        return gen.ToArbitrary();
    }

    private static ValidReadWrite Build(bool write, BlkifSegment[] segments, ulong slack, ulong id, ushort handle)
    {
        var request = new BlkifRequest
        {
            Operation = (byte)(write ? BlkifOperation.Write : BlkifOperation.Read),
            SegmentCount = (byte)segments.Length,
            Handle = handle,
            Id = id,
            SectorNumber = slack,
        };
        ulong sectors = 0;
        for (int i = 0; i < segments.Length; i++)
        {
            request.SetSegment(i, segments[i]);
            sectors += (ulong)(segments[i].LastSector - segments[i].FirstSector + 1);
        }

        var device = new BlkifDeviceLimits { CapacitySectors = slack + sectors + slack / 2 };
        return new ValidReadWrite(request, device, sectors);
    }
}

/// <summary>The blkif request parser: nothing it accepts breaks a rule of io/blkif.h, everything valid is
/// accepted, and each refusal names the broken rule.</summary>
public sealed class BlkifParserTests
{
    private static readonly BlkifDeviceLimits Disk = new()
    {
        CapacitySectors = 1000,
        SupportsFlush = true,
        SupportsBarrier = true,
        SupportsDiscard = true,
        MaxIndirectSegments = 1024,
    };

    private static BlkifRequest ReadOf(params BlkifSegment[] segments)
    {
        var request = new BlkifRequest { Operation = (byte)BlkifOperation.Read, SegmentCount = (byte)segments.Length, Id = 7, SectorNumber = 100 };
        for (int i = 0; i < segments.Length; i++)
        {
            request.SetSegment(i, segments[i]);
        }

        return request;
    }

    [Property(Arbitrary = new[] { typeof(BlkifGenerators) }, MaxTest = 2000)]
    public void Whatever_bytes_a_front_end_writes_an_accepted_request_obeys_every_rule(RawBlkifSlot raw)
    {
        BlkifRequest slot = Unsafe.ReadUnaligned<BlkifRequest>(ref raw.Bytes[0]);
        BlkifRequestError error = BlkifRequestParser.Parse(slot, raw.Device, out BlkifValidRequest valid);
        Assert.Equal(slot.Id, valid.Id);
        if (error != BlkifRequestError.None)
        {
            Assert.NotEqual(BlkifStatus.Okay, BlkifRequestParser.ResponseStatus(error));
            return;
        }

        var op = (BlkifOperation)slot.Operation;
        Assert.True(op is BlkifOperation.Read or BlkifOperation.Write or BlkifOperation.WriteBarrier or BlkifOperation.FlushDiskCache or BlkifOperation.Discard or BlkifOperation.Indirect);
        Assert.False(raw.Device.ReadOnly && valid.Operation != BlkifOperation.Read, "a write was accepted on a read-only device");
        Assert.True(valid.SectorNumber <= raw.Device.CapacitySectors && valid.SectorCount <= raw.Device.CapacitySectors - valid.SectorNumber);
        switch (op)
        {
            case BlkifOperation.Read:
            case BlkifOperation.Write:
            case BlkifOperation.WriteBarrier:
            case BlkifOperation.FlushDiskCache:
            {
                Assert.True(op is BlkifOperation.Read or BlkifOperation.Write || (op == BlkifOperation.WriteBarrier ? raw.Device.SupportsBarrier : raw.Device.SupportsFlush));
                Assert.InRange(valid.SegmentCount, op is BlkifOperation.Read or BlkifOperation.Write ? 1 : 0, Blkif.MaxSegmentsPerRequest);
                ulong sectors = 0;
                for (int i = 0; i < valid.SegmentCount; i++)
                {
                    BlkifSegment s = valid.Slot.GetSegment(i);
                    Assert.True(s.FirstSector <= s.LastSector && s.LastSector <= 7);
                    sectors += (ulong)(s.LastSector - s.FirstSector + 1);
                }

                Assert.Equal(sectors, valid.SectorCount);
                break;
            }

            case BlkifOperation.Discard:
                Assert.True(raw.Device.SupportsDiscard);
                Assert.True(valid.SectorCount > 0);
                break;
            case BlkifOperation.Indirect:
                Assert.True(valid.IsIndirect);
                Assert.InRange(valid.SegmentCount, 1, Math.Min((int)raw.Device.MaxIndirectSegments, 8 * 512));
                Assert.True(valid.Operation is BlkifOperation.Read or BlkifOperation.Write);
                break;
        }
    }

    [Property(Arbitrary = new[] { typeof(BlkifGenerators) }, MaxTest = 500)]
    public void Every_well_formed_read_or_write_is_accepted_as_it_was_sent(ValidReadWrite sample)
    {
        Assert.Equal(BlkifRequestError.None, BlkifRequestParser.Parse(sample.Request, sample.Device, out BlkifValidRequest valid));
        Assert.Equal((BlkifOperation)sample.Request.Operation, valid.Operation);
        Assert.Equal(sample.Request.Id, valid.Id);
        Assert.Equal(sample.Request.Handle, valid.Handle);
        Assert.Equal(sample.Request.SectorNumber, valid.SectorNumber);
        Assert.Equal(sample.Sectors, valid.SectorCount);
        Assert.Equal(sample.Request.SegmentCount, valid.SegmentCount);
        Assert.False(valid.IsIndirect);
    }

    [Fact]
    public void Each_broken_rule_is_named()
    {
        var ok = new BlkifSegment(1, 0, 7);
        Assert.Equal(BlkifRequestError.None, BlkifRequestParser.Parse(ReadOf(ok), Disk, out _));
        Assert.Equal(BlkifRequestError.NoSegments, BlkifRequestParser.Parse(ReadOf(), Disk, out _));
        Assert.Equal(BlkifRequestError.SegmentBeyondPage, BlkifRequestParser.Parse(ReadOf(new BlkifSegment(1, 0, 8)), Disk, out _));
        Assert.Equal(BlkifRequestError.SegmentReversed, BlkifRequestParser.Parse(ReadOf(new BlkifSegment(1, 5, 4)), Disk, out _));

        BlkifRequest tooMany = ReadOf(ok);
        tooMany.SegmentCount = 12;
        Assert.Equal(BlkifRequestError.TooManySegments, BlkifRequestParser.Parse(tooMany, Disk, out _));

        BlkifRequest pastEnd = ReadOf(ok, ok);
        pastEnd.SectorNumber = 1000 - 15;
        Assert.Equal(BlkifRequestError.BeyondEndOfDevice, BlkifRequestParser.Parse(pastEnd, Disk, out _));
        pastEnd.SectorNumber = 1000 - 16;
        Assert.Equal(BlkifRequestError.None, BlkifRequestParser.Parse(pastEnd, Disk, out _));
        pastEnd.SectorNumber = ulong.MaxValue - 3;
        Assert.Equal(BlkifRequestError.BeyondEndOfDevice, BlkifRequestParser.Parse(pastEnd, Disk with { CapacitySectors = ulong.MaxValue }, out _));

        BlkifRequest unknown = ReadOf(ok);
        unknown.Operation = 4;
        Assert.Equal(BlkifRequestError.UnknownOperation, BlkifRequestParser.Parse(unknown, Disk, out _));
        unknown.Operation = 200;
        Assert.Equal(BlkifRequestError.UnknownOperation, BlkifRequestParser.Parse(unknown, Disk, out _));

        BlkifRequest write = ReadOf(ok);
        write.Operation = (byte)BlkifOperation.Write;
        Assert.Equal(BlkifRequestError.WriteToReadOnlyDevice, BlkifRequestParser.Parse(write, Disk with { ReadOnly = true }, out _));
        Assert.Equal(BlkifRequestError.None, BlkifRequestParser.Parse(ReadOf(ok), Disk with { ReadOnly = true }, out _));
    }

    [Fact]
    public void Operations_the_back_end_did_not_advertise_are_answered_not_supported()
    {
        var flush = new BlkifRequest { Operation = (byte)BlkifOperation.FlushDiskCache };
        Assert.Equal(BlkifRequestError.None, BlkifRequestParser.Parse(flush, Disk, out BlkifValidRequest valid));
        Assert.Equal(0, valid.SegmentCount);
        BlkifRequestError error = BlkifRequestParser.Parse(flush, Disk with { SupportsFlush = false }, out _);
        Assert.Equal(BlkifRequestError.OperationNotSupported, error);
        Assert.Equal(BlkifStatus.NotSupported, BlkifRequestParser.ResponseStatus(error));
        Assert.Equal(BlkifStatus.Error, BlkifRequestParser.ResponseStatus(BlkifRequestError.SegmentReversed));

        var barrier = new BlkifRequest { Operation = (byte)BlkifOperation.WriteBarrier };
        Assert.Equal(BlkifRequestError.OperationNotSupported, BlkifRequestParser.Parse(barrier, Disk with { SupportsBarrier = false }, out _));
        var indirect = BlkifRequest.FromIndirect(new BlkifIndirectRequest { Operation = (byte)BlkifOperation.Indirect, IndirectOperation = 0, SegmentCount = 3 });
        Assert.Equal(BlkifRequestError.OperationNotSupported, BlkifRequestParser.Parse(indirect, Disk with { MaxIndirectSegments = 0 }, out _));
    }

    [Fact]
    public void A_discard_is_checked_against_the_device()
    {
        BlkifRequest Discard(ulong first, ulong count, byte flag = 0) => BlkifRequest.FromDiscard(new BlkifDiscardRequest
        {
            Operation = (byte)BlkifOperation.Discard,
            Flag = flag,
            Id = 9,
            SectorNumber = first,
            SectorCount = count,
        });

        Assert.Equal(BlkifRequestError.None, BlkifRequestParser.Parse(Discard(0, 1000, Blkif.DiscardSecure), Disk, out BlkifValidRequest valid));
        Assert.True(valid.SecureDiscard);
        Assert.Equal(1000ul, valid.SectorCount);
        Assert.Equal(BlkifRequestError.EmptyDiscard, BlkifRequestParser.Parse(Discard(5, 0), Disk, out _));
        Assert.Equal(BlkifRequestError.BeyondEndOfDevice, BlkifRequestParser.Parse(Discard(1, 1000), Disk, out _));
        Assert.Equal(BlkifRequestError.WriteToReadOnlyDevice, BlkifRequestParser.Parse(Discard(1, 1), Disk with { ReadOnly = true }, out _));
    }

    [Fact]
    public void An_indirect_request_is_checked_in_two_steps_header_then_segments()
    {
        var header = new BlkifIndirectRequest
        {
            Operation = (byte)BlkifOperation.Indirect,
            IndirectOperation = (byte)BlkifOperation.Write,
            SegmentCount = 600,
            Id = 5,
            SectorNumber = 10,
        };
        header.SetIndirectGrant(0, 11);
        header.SetIndirectGrant(1, 12);
        var disk = Disk with { CapacitySectors = 10_000 };
        Assert.Equal(BlkifRequestError.None, BlkifRequestParser.Parse(BlkifRequest.FromIndirect(header), disk, out BlkifValidRequest valid));
        Assert.True(valid.IsIndirect);
        Assert.Equal(BlkifOperation.Write, valid.Operation);
        Assert.Equal(2, BlkifRequestParser.IndirectPagesFor(valid.SegmentCount));

        var segments = new BlkifSegment[600];
        for (int i = 0; i < segments.Length; i++)
        {
            segments[i] = new BlkifSegment((uint)i, 0, 7);
        }

        Assert.Equal(BlkifRequestError.SegmentCountMismatch, BlkifRequestParser.ValidateIndirectSegments(ref valid, segments.AsSpan(1), disk));
        Assert.Equal(BlkifRequestError.BeyondEndOfDevice, BlkifRequestParser.ValidateIndirectSegments(ref valid, segments, disk with { CapacitySectors = 4000 }));
        segments[599] = new BlkifSegment(1, 3, 2);
        Assert.Equal(BlkifRequestError.SegmentReversed, BlkifRequestParser.ValidateIndirectSegments(ref valid, segments, disk));
        segments[599] = new BlkifSegment(1, 3, 3);
        Assert.Equal(BlkifRequestError.None, BlkifRequestParser.ValidateIndirectSegments(ref valid, segments, disk));
        Assert.Equal(599ul * 8 + 1, valid.SectorCount);

        header.SegmentCount = 1025;
        Assert.Equal(BlkifRequestError.TooManySegments, BlkifRequestParser.Parse(BlkifRequest.FromIndirect(header), disk, out _));
        header.SegmentCount = 0;
        Assert.Equal(BlkifRequestError.NoSegments, BlkifRequestParser.Parse(BlkifRequest.FromIndirect(header), disk, out _));
        header.SegmentCount = 10;
        header.IndirectOperation = (byte)BlkifOperation.Discard;
        Assert.Equal(BlkifRequestError.BadIndirectOperation, BlkifRequestParser.Parse(BlkifRequest.FromIndirect(header), disk, out _));
    }
}

using System;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Keel.Ringlib.Tests.Support;
using Xunit;

namespace Keel.Ringlib.Tests;

/// <summary>What a hostile peer does next, or which operation the honest side runs next.</summary>
public enum HostileStepKind
{
    /// <summary>The peer stores its producer index at (honest side's answered index + Value).</summary>
    ProducerNearby,

    /// <summary>The peer stores any value at all in its producer index.</summary>
    ProducerAnywhere,

    /// <summary>The peer rewrites the bytes of a slot.</summary>
    ScribbleSlot,

    /// <summary>The peer rewrites the honest side's event index and its own.</summary>
    ScribbleEvents,

    /// <summary>The honest side asks how much work there is.</summary>
    Poll,

    /// <summary>The honest side takes one entry.</summary>
    TakeOne,

    /// <summary>The honest side takes entries until the ring says there are none.</summary>
    TakeAll,

    /// <summary>The honest side produces (responses for a back-end, requests for a front-end) and publishes them.</summary>
    Produce,

    /// <summary>The honest side runs its final check.</summary>
    FinalCheck,
}

public sealed record HostileStep(HostileStepKind Kind, uint Value, byte[] Bytes)
{
    public override string ToString() => Kind + "(" + Value + (Bytes.Length > 0 ? ", " + Convert.ToHexString(Bytes) : "") + ")";
}

public sealed record HostileScenario(uint Start, uint Slots, HostileStep[] Steps)
{
    public override string ToString() => $"start=0x{Start:X8} slots={Slots} steps=[{string.Join(", ", (object[])Steps)}]";
}

public static class HostileScenarios
{
    public static Arbitrary<HostileScenario> Scenario()
    {
        Gen<uint> near = Gen.Choose(-3, 40).Select(d => unchecked((uint)d));
        Gen<uint> any = ArbMap.Default.GeneratorFor<uint>();
        Gen<byte[]> bytes = ArbMap.Default.GeneratorFor<byte>().ArrayOf(16);
        Gen<byte[]> none = Gen.Constant(Array.Empty<byte>());
        Gen<HostileStep> step = Gen.Frequency(
            (4, near.Select(v => new HostileStep(HostileStepKind.ProducerNearby, v, Array.Empty<byte>()))),
            (1, any.Select(v => new HostileStep(HostileStepKind.ProducerAnywhere, v, Array.Empty<byte>()))),
            (2, from v in any from b in bytes select new HostileStep(HostileStepKind.ScribbleSlot, v, b)),
            (1, from v in any from b in bytes select new HostileStep(HostileStepKind.ScribbleEvents, v, b)),
            (2, Gen.Constant(new HostileStep(HostileStepKind.Poll, 0, Array.Empty<byte>()))),
            (3, Gen.Constant(new HostileStep(HostileStepKind.TakeOne, 0, Array.Empty<byte>()))),
            (3, Gen.Constant(new HostileStep(HostileStepKind.TakeAll, 0, Array.Empty<byte>()))),
            (3, Gen.Choose(0, 40).Select(n => new HostileStep(HostileStepKind.Produce, (uint)n, Array.Empty<byte>()))),
            (2, Gen.Constant(new HostileStep(HostileStepKind.FinalCheck, 0, Array.Empty<byte>()))));
        Gen<HostileScenario> scenario =
            from start in FifoScenarios.Starts
            from slots in Gen.Elements(1u, 2u, 4u, 8u, 16u, 32u)
            from length in Gen.Choose(1, 120)
            from steps in step.ArrayOf(length)
            select new HostileScenario(start, slots, steps);
        return scenario.ToArbitrary();
    }
}

/// <summary>Records the last value read from one watched shared index, so a test knows exactly which
/// producer index values the ring has seen.</summary>
public unsafe struct WatchingAccess : ISharedMemoryAccess
{
    [ThreadStatic] public static nint Watched;
    [ThreadStatic] public static int Reads;
    [ThreadStatic] public static uint LastRead;

    public static uint Read(uint* index)
    {
        uint value = *index;
        if ((nint)index == Watched)
        {
            Reads++;
            LastRead = value;
        }

        return value;
    }

    public static void Write(uint* index, uint value) => *index = value;

    public static void FullBarrier()
    {
    }
}

/// <summary>
/// Hostile peers. The honest side runs the production ring code over a region fenced by inaccessible pages,
/// while the peer writes anything anywhere in the shared region between the honest side's operations. For
/// every scenario: no access leaves the region (or the process dies), the honest side never takes more
/// entries than the ring can hold, every taking loop ends within one ring's worth of iterations, and the ring
/// reports overflow (or regression) exactly when the values it read prove the peer is lying.
/// </summary>
public sealed unsafe class HostilePeerTests
{
    private static readonly uint EntryBytes = RingGeometry.EntryBytes<TestRequest, TestResponse>();

    /// <summary>The rule a ring applies to each producer index value it reads from its peer.</summary>
    private static RingStatus Judge(uint value, uint floor, uint seen, uint limit)
    {
        if (value - floor > limit)
        {
            return RingStatus.ProducerOverflow;
        }

        return value - floor < seen - floor ? RingStatus.ProducerRegressed : RingStatus.Ok;
    }

    [Property(Arbitrary = new[] { typeof(HostileScenarios) }, MaxTest = 1000)]
    public void A_back_end_survives_any_front_end(HostileScenario scenario)
    {
        using var region = new GuardedRegion(RingGeometry.HeaderBytes + scenario.Slots * EntryBytes);
        SharedRingHeader* header = region.Header;
        header->RequestProducer = scenario.Start;
        header->ResponseProducer = scenario.Start;
        WatchingAccess.Watched = (nint)(&header->RequestProducer);
        Assert.True(BackRing<TestRequest, TestResponse, WatchingAccess>.TryAttach(region.Pointer, region.Bytes, scenario.Start, out var back));
        uint size = back.Size;
        Assert.Equal(scenario.Slots, size);

        RingStatus expected = RingStatus.Ok;
        uint seen = scenario.Start;
        foreach (HostileStep step in scenario.Steps)
        {
            WatchingAccess.Reads = 0;
            uint answered = back.ResponseProducer;
            switch (step.Kind)
            {
                case HostileStepKind.ProducerNearby:
                    header->RequestProducer = answered + step.Value;
                    break;
                case HostileStepKind.ProducerAnywhere:
                    header->RequestProducer = step.Value;
                    break;
                case HostileStepKind.ScribbleSlot:
                    step.Bytes.CopyTo(new Span<byte>(region.Pointer + RingGeometry.HeaderBytes + (step.Value % size) * EntryBytes, (int)EntryBytes));
                    break;
                case HostileStepKind.ScribbleEvents:
                    header->RequestEvent = step.Value;
                    header->ResponseEvent = ~step.Value;
                    break;
                case HostileStepKind.Poll:
                {
                    uint count = back.UnconsumedRequests();
                    Assert.True(count <= size - back.PendingResponses, "more work claimed than free slots");
                    break;
                }

                case HostileStepKind.TakeOne:
                    back.TryTakeRequest(out _);
                    break;
                case HostileStepKind.TakeAll:
                {
                    int taken = 0;
                    while (back.TryTakeRequest(out _))
                    {
                        taken++;
                        Assert.True(taken <= size, "a taking loop ran past one ring's worth of requests");
                    }

                    break;
                }

                case HostileStepKind.Produce:
                {
                    uint owed = back.PendingResponses;
                    for (uint i = 0; i < step.Value; i++)
                    {
                        Assert.Equal(i < owed, back.TryWriteResponse(new TestResponse { Sequence = i }));
                    }

                    back.PushResponsesAndCheckNotify();
                    Assert.Equal(back.ResponseProducer, header->ResponseProducer);
                    break;
                }

                case HostileStepKind.FinalCheck:
                    back.FinalCheckForRequests();
                    break;
            }

            if (WatchingAccess.Reads > 0 && expected == RingStatus.Ok)
            {
                // The answered index cannot move during a step that reads req_prod, so `answered` is the floor.
                expected = Judge(WatchingAccess.LastRead, answered, seen, size);
                if (expected == RingStatus.Ok)
                {
                    seen = WatchingAccess.LastRead;
                }
            }

            Assert.Equal(expected, back.Status);
            Assert.True(back.PendingResponses <= size, "more requests taken than the ring holds");
            // Only requests the front-end published (in the value last believed) were taken.
            Assert.True(back.RequestConsumer - back.ResponseProducer <= seen - back.ResponseProducer);
        }
    }

    [Property(Arbitrary = new[] { typeof(HostileScenarios) }, MaxTest = 1000)]
    public void A_front_end_survives_any_back_end(HostileScenario scenario)
    {
        using var region = new GuardedRegion(RingGeometry.HeaderBytes + scenario.Slots * EntryBytes);
        SharedRingHeader* header = region.Header;
        Assert.True(FrontRing<TestRequest, TestResponse, WatchingAccess>.TryInitialize(region.Pointer, region.Bytes, out var front));
        header->RequestProducer = scenario.Start;
        header->ResponseProducer = scenario.Start;
        Assert.True(FrontRing<TestRequest, TestResponse, WatchingAccess>.TryAttach(region.Pointer, region.Bytes, scenario.Start, out front));
        WatchingAccess.Watched = (nint)(&header->ResponseProducer);
        uint size = front.Size;

        RingStatus expected = RingStatus.Ok;
        uint seen = scenario.Start;
        uint published = scenario.Start;
        ulong sequence = 0;
        foreach (HostileStep step in scenario.Steps)
        {
            WatchingAccess.Reads = 0;
            uint consumed = front.ResponseConsumer;
            switch (step.Kind)
            {
                case HostileStepKind.ProducerNearby:
                    header->ResponseProducer = consumed + step.Value;
                    break;
                case HostileStepKind.ProducerAnywhere:
                    header->ResponseProducer = step.Value;
                    break;
                case HostileStepKind.ScribbleSlot:
                    step.Bytes.CopyTo(new Span<byte>(region.Pointer + RingGeometry.HeaderBytes + (step.Value % size) * EntryBytes, (int)EntryBytes));
                    break;
                case HostileStepKind.ScribbleEvents:
                    header->ResponseEvent = step.Value;
                    header->RequestEvent = ~step.Value;
                    break;
                case HostileStepKind.Poll:
                {
                    uint count = front.UnconsumedResponses();
                    Assert.True(count <= published - consumed, "more responses claimed than requests published");
                    break;
                }

                case HostileStepKind.TakeOne:
                    front.TryTakeResponse(out _);
                    break;
                case HostileStepKind.TakeAll:
                {
                    int taken = 0;
                    while (front.TryTakeResponse(out _))
                    {
                        taken++;
                        Assert.True(taken <= size, "a taking loop ran past one ring's worth of responses");
                    }

                    break;
                }

                case HostileStepKind.Produce:
                {
                    uint free = front.FreeRequests;
                    for (uint i = 0; i < step.Value; i++)
                    {
                        Assert.Equal(i < free, front.TryWriteRequest(TestRequest.For(sequence++)));
                    }

                    front.PushRequestsAndCheckNotify();
                    published = front.RequestProducer;
                    Assert.Equal(published, header->RequestProducer);
                    break;
                }

                case HostileStepKind.FinalCheck:
                    front.FinalCheckForResponses();
                    break;
            }

            if (WatchingAccess.Reads > 0 && expected == RingStatus.Ok)
            {
                // rsp_cons moves while responses are taken: a taking step first uses up the responses already
                // believed, so its first read happens with rsp_cons at the old believed value; a poll reads at once.
                uint floor = step.Kind == HostileStepKind.Poll ? consumed : seen;
                expected = Judge(WatchingAccess.LastRead, floor, seen, published - floor);
                if (expected == RingStatus.Ok)
                {
                    seen = WatchingAccess.LastRead;
                }
            }

            Assert.Equal(expected, front.Status);
            Assert.True(front.RequestsInFlight <= size, "more requests in flight than the ring holds");
            Assert.True(front.FreeRequests <= size);
            // Only responses to published requests were taken.
            Assert.True(front.ResponseConsumer - consumed <= published - consumed);
        }
    }

    [Fact]
    public void A_producer_index_beyond_the_ring_is_reported_as_overflow()
    {
        using var region = new GuardedRegion(RingGeometry.HeaderBytes + 8 * EntryBytes);
        Assert.True(FrontRing<TestRequest, TestResponse>.TryInitialize(region.Pointer, region.Bytes, out _));
        Assert.True(BackRing<TestRequest, TestResponse>.TryAttach(region.Pointer, region.Bytes, out var back));
        region.Header->RequestProducer = 8;
        Assert.Equal(8u, back.UnconsumedRequests());
        region.Header->RequestProducer = 9;
        Assert.Equal(0u, back.UnconsumedRequests());
        Assert.Equal(RingStatus.ProducerOverflow, back.Status);
        Assert.False(back.TryTakeRequest(out _));
        Assert.False(back.FinalCheckForRequests());
    }

    [Fact]
    public void An_overflow_is_measured_from_the_responses_written_not_from_the_requests_taken()
    {
        using var region = new GuardedRegion(RingGeometry.HeaderBytes + 4 * EntryBytes);
        Assert.True(FrontRing<TestRequest, TestResponse>.TryInitialize(region.Pointer, region.Bytes, out _));
        Assert.True(BackRing<TestRequest, TestResponse>.TryAttach(region.Pointer, region.Bytes, out var back));
        region.Header->RequestProducer = 4;
        for (int i = 0; i < 4; i++)
        {
            Assert.True(back.TryTakeRequest(out _));
        }

        // Four requests taken, none answered: the slots are still the back-end's, so a fifth is a lie.
        region.Header->RequestProducer = 5;
        Assert.False(back.TryTakeRequest(out _));
        Assert.Equal(RingStatus.ProducerOverflow, back.Status);
    }

    [Fact]
    public void Answering_frees_slots_for_the_producer_index_to_move_on()
    {
        using var region = new GuardedRegion(RingGeometry.HeaderBytes + 4 * EntryBytes);
        Assert.True(FrontRing<TestRequest, TestResponse>.TryInitialize(region.Pointer, region.Bytes, out _));
        Assert.True(BackRing<TestRequest, TestResponse>.TryAttach(region.Pointer, region.Bytes, out var back));
        region.Header->RequestProducer = 4;
        for (int i = 0; i < 4; i++)
        {
            Assert.True(back.TryTakeRequest(out _));
            Assert.True(back.TryWriteResponse(default));
        }

        back.PushResponses();
        region.Header->RequestProducer = 8;
        Assert.Equal(4u, back.UnconsumedRequests());
        Assert.Equal(RingStatus.Ok, back.Status);
    }

    [Fact]
    public void A_producer_index_moving_backwards_is_reported_as_regression()
    {
        using var region = new GuardedRegion(RingGeometry.HeaderBytes + 8 * EntryBytes);
        Assert.True(FrontRing<TestRequest, TestResponse>.TryInitialize(region.Pointer, region.Bytes, out _));
        Assert.True(BackRing<TestRequest, TestResponse>.TryAttach(region.Pointer, region.Bytes, out var back));
        region.Header->RequestProducer = 5;
        Assert.True(back.TryTakeRequest(out _));
        Assert.True(back.TryTakeRequest(out _));
        // Behind what was already taken: without the check, the clamp of io/ring.h would hand out 6 stale slots.
        region.Header->RequestProducer = 1;
        Assert.Equal(0u, back.UnconsumedRequests());
        Assert.Equal(RingStatus.ProducerRegressed, back.Status);
    }

    [Fact]
    public void A_producer_index_wrapping_past_2_to_the_32_is_not_mistaken_for_overflow()
    {
        using var region = new GuardedRegion(RingGeometry.HeaderBytes + 8 * EntryBytes);
        region.Header->RequestProducer = 0xFFFFFFFC;
        region.Header->ResponseProducer = 0xFFFFFFFC;
        Assert.True(BackRing<TestRequest, TestResponse>.TryAttach(region.Pointer, region.Bytes, 0xFFFFFFFC, out var back));
        region.Header->RequestProducer = 4;
        Assert.Equal(8u, back.UnconsumedRequests());
        Assert.Equal(RingStatus.Ok, back.Status);
    }

    [Fact]
    public void A_back_end_answering_more_than_was_asked_is_reported_as_overflow()
    {
        using var region = new GuardedRegion(RingGeometry.HeaderBytes + 8 * EntryBytes);
        Assert.True(FrontRing<TestRequest, TestResponse>.TryInitialize(region.Pointer, region.Bytes, out var front));
        Assert.True(front.TryWriteRequest(TestRequest.For(0)));
        Assert.True(front.TryWriteRequest(TestRequest.For(1)));
        front.PushRequests();
        Assert.True(front.TryWriteRequest(TestRequest.For(2)));
        // Two published, one written but unpublished: a third response cannot be genuine.
        region.Header->ResponseProducer = 3;
        Assert.False(front.TryTakeResponse(out _));
        Assert.Equal(RingStatus.ProducerOverflow, front.Status);
        Assert.False(front.FinalCheckForResponses());
    }

    [Fact]
    public void A_request_rewritten_after_it_was_taken_does_not_change_the_taken_copy()
    {
        using var region = new GuardedRegion(RingGeometry.HeaderBytes + 8 * EntryBytes);
        Assert.True(FrontRing<TestRequest, TestResponse>.TryInitialize(region.Pointer, region.Bytes, out var front));
        Assert.True(BackRing<TestRequest, TestResponse>.TryAttach(region.Pointer, region.Bytes, out var back));
        Assert.True(front.TryWriteRequest(TestRequest.For(42)));
        front.PushRequests();
        Assert.True(back.TryTakeRequest(out TestRequest request));
        var slot = (TestRequest*)(region.Pointer + RingGeometry.HeaderBytes);
        slot->Sequence = 666;
        slot->Checksum = 0;
        Assert.Equal(42ul, request.Sequence);
        Assert.True(request.IsIntact);
    }
}

using System;
using System.Collections.Generic;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Keel.Ringlib.Tests.Support;
using Xunit;

namespace Keel.Ringlib.Tests;

/// <summary>One step of the front-end or the back-end, chosen at random.</summary>
public enum RingCommand
{
    WriteRequest,
    PushRequests,
    PushRequestsUnchecked,
    TakeRequest,
    WriteResponse,
    PushResponses,
    PushResponsesUnchecked,
    TakeResponse,
    BackFinalCheck,
    FrontFinalCheck,
}

/// <summary>A run of commands on a ring of <see cref="Slots"/> slots whose indices all start at <see cref="Start"/>.</summary>
public sealed record FifoScenario(uint Start, uint Slots, RingCommand[] Commands)
{
    public override string ToString()
        => $"start=0x{Start:X8} slots={Slots} commands=[{string.Join(",", Commands)}]";
}

public static class FifoScenarios
{
    /// <summary>Starting indices: anything, with extra weight right below the 2^32 wrap and at 2^31.</summary>
    public static Gen<uint> Starts =>
        Gen.Frequency(
            (2, Gen.Elements(0u, 0xFFFFFF00u, 0xFFFFFFF0u, 0xFFFFFFFCu, 0xFFFFFFFFu, 0x7FFFFFFEu)),
            (1, ArbMap.Default.GeneratorFor<uint>()));

    public static Arbitrary<FifoScenario> Scenario()
    {
        Gen<RingCommand> command = Gen.Elements(Enum.GetValues<RingCommand>());
        Gen<FifoScenario> scenario =
            from start in Starts
            from slots in Gen.Elements(1u, 2u, 4u, 8u)
            from length in Gen.Choose(0, 400)
            from commands in command.ArrayOf(length)
            select new FifoScenario(start, slots, commands);
        return scenario.ToArbitrary();
    }
}

/// <summary>
/// Model-based test of a front ring and a back ring sharing one region, driven in one thread: after every
/// command the pair must agree with a model made of plain queues. Requests flow through
/// written -> published -> taken -> answered (written response) -> published response -> taken response;
/// a ring that loses, duplicates or reorders anything, or refuses or accepts a write the model would not,
/// disagrees with the model.
/// </summary>
public sealed unsafe class FifoModelTests
{
    [Property(Arbitrary = new[] { typeof(FifoScenarios) }, MaxTest = 300)]
    public void Any_sequence_of_ring_operations_behaves_like_a_bounded_fifo(FifoScenario scenario)
    {
        using var run = new FifoRun(scenario.Start, scenario.Slots);
        foreach (RingCommand command in scenario.Commands)
        {
            run.Apply(command);
            run.CheckInvariants();
        }

        run.DrainAndCheckEverythingArrivedOnce();
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(0xFFFFFF00u)]
    [InlineData(0xFFFFFFFFu)]
    public void A_thousand_round_trips_across_the_index_wrap_arrive_in_order(uint start)
    {
        using var run = new FifoRun(start, 8);
        for (int i = 0; i < 1000; i++)
        {
            run.Apply(RingCommand.WriteRequest);
            if (i % 3 == 2)
            {
                run.Apply(RingCommand.PushRequests);
                for (int j = 0; j < 3; j++)
                {
                    run.Apply(RingCommand.TakeRequest);
                    run.Apply(RingCommand.WriteResponse);
                }

                run.Apply(RingCommand.PushResponses);
                for (int j = 0; j < 3; j++)
                {
                    run.Apply(RingCommand.TakeResponse);
                }
            }

            run.CheckInvariants();
        }

        run.DrainAndCheckEverythingArrivedOnce();
        Assert.Equal(1000ul, run.ResponsesTaken);
    }

    [Fact]
    public void A_ring_whose_indices_start_near_2_to_the_32_wraps_its_shared_indices()
    {
        using var run = new FifoRun(0xFFFFFFFEu, 4);
        for (int i = 0; i < 4; i++)
        {
            run.Apply(RingCommand.WriteRequest);
        }

        run.Apply(RingCommand.PushRequests);
        Assert.Equal(2u, run.SharedRequestProducer);
        Assert.Equal(0xFFFFFFFEu, run.SharedResponseProducer);
        run.DrainAndCheckEverythingArrivedOnce();
        Assert.Equal(2u, run.SharedResponseProducer);
    }
}

/// <summary>A front ring, a back ring, and the queue model they must agree with.</summary>
internal sealed unsafe class FifoRun : IDisposable
{
    private readonly SharedRegion _region;
    private readonly uint _start;
    private readonly uint _slots;
    private FrontRing<TestRequest, TestResponse> _front;
    private BackRing<TestRequest, TestResponse> _back;

    private readonly Queue<ulong> _written = new();
    private readonly Queue<ulong> _published = new();
    private readonly Queue<ulong> _taken = new();
    private readonly Queue<ulong> _answered = new();
    private readonly Queue<ulong> _responsesPublishedQueue = new();
    private ulong _nextSequence;
    private ulong _expectedResponse;

    // The model of notification hold-off, in counts since the start (no wrap): a consumer's final check that
    // finds nothing sets its event to (consumed + 1); a checked push must notify exactly when that event lies
    // in (count at the previous check, count now].
    private ulong _requestsPublished;
    private ulong _requestsChecked;
    private ulong _requestEvent = 1;
    private ulong _requestsTaken;
    private ulong _responsesPublished;
    private ulong _responsesChecked;
    private ulong _responseEvent = 1;

    public FifoRun(uint start, uint slots)
    {
        _start = start;
        _slots = slots;
        _region = new SharedRegion(RingGeometry.HeaderBytes + slots * RingGeometry.EntryBytes<TestRequest, TestResponse>());
        Assert.True(FrontRing<TestRequest, TestResponse>.TryInitialize(_region.Pointer, _region.Bytes, out _front));
        if (start != 0)
        {
            // A ring that has already carried `start` messages each way: what FRONT_RING_ATTACH and
            // BACK_RING_ATTACH with an index are for.
            _region.Header->RequestProducer = start;
            _region.Header->ResponseProducer = start;
            _region.Header->RequestEvent = start + 1;
            _region.Header->ResponseEvent = start + 1;
            Assert.True(FrontRing<TestRequest, TestResponse>.TryAttach(_region.Pointer, _region.Bytes, start, out _front));
        }

        Assert.True(BackRing<TestRequest, TestResponse>.TryAttach(_region.Pointer, _region.Bytes, start, out _back));
        Assert.Equal(slots, _front.Size);
        Assert.Equal(slots, _back.Size);
    }

    public ulong ResponsesTaken => _expectedResponse;

    public uint SharedRequestProducer => _region.Header->RequestProducer;

    public uint SharedResponseProducer => _region.Header->ResponseProducer;

    private int InFlight => _written.Count + _published.Count + _taken.Count + _answered.Count + _responsesPublishedQueue.Count;

    public void Apply(RingCommand command)
    {
        switch (command)
        {
            case RingCommand.WriteRequest:
            {
                bool room = InFlight < _slots;
                Assert.Equal(room, _front.TryWriteRequest(TestRequest.For(_nextSequence)));
                if (room)
                {
                    _written.Enqueue(_nextSequence++);
                }

                break;
            }

            case RingCommand.PushRequests:
            case RingCommand.PushRequestsUnchecked:
            {
                while (_written.Count > 0)
                {
                    _published.Enqueue(_written.Dequeue());
                    _requestsPublished++;
                }

                if (command == RingCommand.PushRequestsUnchecked)
                {
                    _front.PushRequests();
                    break;
                }

                bool notify = _requestsChecked < _requestEvent && _requestEvent <= _requestsPublished;
                Assert.Equal(notify, _front.PushRequestsAndCheckNotify());
                _requestsChecked = _requestsPublished;
                break;
            }

            case RingCommand.TakeRequest:
            {
                bool available = _published.Count > 0;
                Assert.Equal(available, _back.TryTakeRequest(out TestRequest request));
                if (available)
                {
                    Assert.True(request.IsIntact);
                    Assert.Equal(_published.Dequeue(), request.Sequence);
                    _taken.Enqueue(request.Sequence);
                    _requestsTaken++;
                }

                break;
            }

            case RingCommand.WriteResponse:
            {
                bool owed = _taken.Count > 0;
                ulong sequence = owed ? _taken.Peek() : ulong.MaxValue;
                Assert.Equal(owed, _back.TryWriteResponse(new TestResponse { Sequence = sequence }));
                if (owed)
                {
                    _answered.Enqueue(_taken.Dequeue());
                }

                break;
            }

            case RingCommand.PushResponses:
            case RingCommand.PushResponsesUnchecked:
            {
                while (_answered.Count > 0)
                {
                    _responsesPublished++;
                    _responsesPublishedQueue.Enqueue(_answered.Dequeue());
                }

                if (command == RingCommand.PushResponsesUnchecked)
                {
                    _back.PushResponses();
                    break;
                }

                bool notify = _responsesChecked < _responseEvent && _responseEvent <= _responsesPublished;
                Assert.Equal(notify, _back.PushResponsesAndCheckNotify());
                _responsesChecked = _responsesPublished;
                break;
            }

            case RingCommand.TakeResponse:
            {
                bool available = _responsesPublishedQueue.Count > 0;
                Assert.Equal(available, _front.TryTakeResponse(out TestResponse response));
                if (available)
                {
                    ulong expected = _responsesPublishedQueue.Dequeue();
                    Assert.Equal(expected, response.Sequence);
                    Assert.Equal(_expectedResponse, response.Sequence);
                    _expectedResponse++;
                }

                break;
            }

            case RingCommand.BackFinalCheck:
            {
                bool work = _published.Count > 0;
                Assert.Equal(work, _back.FinalCheckForRequests());
                if (!work)
                {
                    _requestEvent = _requestsTaken + 1;
                }

                break;
            }

            case RingCommand.FrontFinalCheck:
            {
                bool work = _responsesPublishedQueue.Count > 0;
                Assert.Equal(work, _front.FinalCheckForResponses());
                if (!work)
                {
                    _responseEvent = _expectedResponse + 1;
                }

                break;
            }
        }
    }

    public void CheckInvariants()
    {
        Assert.Equal(RingStatus.Ok, _front.Status);
        Assert.Equal(RingStatus.Ok, _back.Status);
        Assert.Equal(_slots - (uint)InFlight, _front.FreeRequests);
        Assert.Equal((uint)InFlight, _front.RequestsInFlight);
        Assert.Equal((uint)_taken.Count, _back.PendingResponses);
        Assert.Equal(_start + (uint)_nextSequence, _front.RequestProducer);
        Assert.Equal(_start + (uint)_expectedResponse, _front.ResponseConsumer);
        Assert.Equal((uint)_published.Count, _back.UnconsumedRequests());
        Assert.Equal((uint)_responsesPublishedQueue.Count, _front.UnconsumedResponses());
    }

    public void DrainAndCheckEverythingArrivedOnce()
    {
        Apply(RingCommand.PushRequests);
        while (_published.Count > 0)
        {
            Apply(RingCommand.TakeRequest);
        }

        while (_taken.Count > 0)
        {
            Apply(RingCommand.WriteResponse);
        }

        Apply(RingCommand.PushResponses);
        while (_responsesPublishedQueue.Count > 0)
        {
            Apply(RingCommand.TakeResponse);
        }

        Assert.False(_back.TryTakeRequest(out _));
        Assert.False(_front.TryTakeResponse(out _));
        Assert.Equal(_nextSequence, _expectedResponse);
        Assert.Equal(0, InFlight);
        Assert.Equal(_start + (uint)_nextSequence, _region.Header->RequestProducer);
        Assert.Equal(_start + (uint)_nextSequence, _region.Header->ResponseProducer);
        CheckInvariants();
    }

    public void Dispose() => _region.Dispose();
}

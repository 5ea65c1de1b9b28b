using System;
using System.Collections.Generic;
using Keel.Ringlib.Tests.Support;

namespace Keel.Ringlib.Tests.Interleaving;

/// <summary>Which direction of the ring is explored.</summary>
public enum Direction
{
    /// <summary>The front-end pushes requests; the back-end consumes them and sleeps when idle.</summary>
    Requests,

    /// <summary>The back-end answers requests already on the ring; the front-end consumes responses and sleeps.</summary>
    Responses,
}

/// <summary>How the sleeping side decides it may sleep.</summary>
public enum ConsumerVariant
{
    /// <summary>The library's FinalCheckForRequests / FinalCheckForResponses.</summary>
    FinalCheck,

    /// <summary>A broken consumer: it looks for work, arms the event index, but does not look again before
    /// sleeping. Exists to show the explorer can find a lost wake-up.</summary>
    ArmsWithoutRecheck,
}

/// <summary>How the producing side publishes.</summary>
public enum ProducerVariant
{
    /// <summary>Every message is published with push-and-check-notify.</summary>
    CheckEveryPush,

    /// <summary>A burst: every message but the last is published without a check, the last with one.</summary>
    CheckAtEndOfBurst,
}

/// <summary>
/// A producer and a consumer using the production rings (compiled against <typeparamref name="TAccess"/>) on
/// a shared region: the producer publishes <c>messages</c> entries one by one, notifying when the ring says
/// so; the consumer takes everything, then decides whether to sleep. After each execution it checks that the
/// consumer is not asleep while work waits on the ring, that everything arrived once and in order, and that
/// every notification was asked for by an armed event index (so none was sent while the consumer was busy).
/// </summary>
public sealed unsafe class WakeupScenario<TAccess> : IDisposable
    where TAccess : struct, ISharedMemoryAccess
{
    private readonly SharedRegion _region;
    private readonly Direction _direction;
    private readonly ConsumerVariant _variant;
    private readonly ProducerVariant _producerVariant;
    private readonly int _messages;
    private readonly List<ulong> _received = new();
    private FrontRing<TestRequest, TestResponse, TAccess> _front;
    private BackRing<TestRequest, TestResponse, TAccess> _back;

    public WakeupScenario(Direction direction, ConsumerVariant variant, int messages, ProducerVariant producerVariant = ProducerVariant.CheckEveryPush)
    {
        _direction = direction;
        _variant = variant;
        _producerVariant = producerVariant;
        _messages = messages;
        _region = new SharedRegion(RingGeometry.HeaderBytes + 4 * RingGeometry.EntryBytes<TestRequest, TestResponse>());
    }

    public int MinNotifications { get; private set; } = int.MaxValue;

    public int MaxNotifications { get; private set; }

    /// <summary>Executions in which the consumer slept and was woken by a notification at least once.</summary>
    public long ExecutionsWithWakeUps { get; private set; }

    public ExplorationResult Explore(MemoryModel model, int preemptionBound, bool stopAtFirstViolation = false, long maxExecutions = 2_000_000)
    {
        using var explorer = new Explorer(model, preemptionBound, Reset, Producer, Consumer, Check);
        return explorer.Explore(stopAtFirstViolation, maxExecutions);
    }

    public void Dispose() => _region.Dispose();

    private uint* ProducerIndex => _direction == Direction.Requests ? &_region.Header->RequestProducer : &_region.Header->ResponseProducer;

    private uint* ConsumerEvent => _direction == Direction.Requests ? &_region.Header->RequestEvent : &_region.Header->ResponseEvent;

    private uint ConsumedSoFar => _direction == Direction.Requests ? _back.RequestConsumer : _front.ResponseConsumer;

    private void Reset()
    {
        new Span<byte>(_region.Pointer, (int)_region.Bytes).Clear();
        _received.Clear();
        _back = default;
        if (!FrontRing<TestRequest, TestResponse, TAccess>.TryInitialize(_region.Pointer, _region.Bytes, out _front))
        {
            throw new InvalidOperationException("ring setup failed");
        }

        if (_direction == Direction.Responses)
        {
            // The requests to answer are already on the ring when the exploration starts.
            for (int i = 0; i < _messages; i++)
            {
                _front.TryWriteRequest(TestRequest.For((ulong)i));
            }

            _front.PushRequests();
        }
    }

    private void Producer(Explorer explorer)
    {
        if (_direction == Direction.Requests)
        {
            for (int i = 0; i < _messages; i++)
            {
                Require(_front.TryWriteRequest(TestRequest.For((ulong)i)), "ring full");
                if (_producerVariant == ProducerVariant.CheckAtEndOfBurst && i < _messages - 1)
                {
                    _front.PushRequests();
                }
                else if (_front.PushRequestsAndCheckNotify())
                {
                    explorer.Notify();
                }
            }

            return;
        }

        Require(BackRing<TestRequest, TestResponse, TAccess>.TryAttach(_region.Pointer, _region.Bytes, out _back), "attach failed");
        for (int i = 0; i < _messages; i++)
        {
            Require(_back.TryTakeRequest(out TestRequest request), "request missing");
            Require(_back.TryWriteResponse(new TestResponse { Sequence = request.Sequence }), "no slot for the response");
            if (_producerVariant == ProducerVariant.CheckAtEndOfBurst && i < _messages - 1)
            {
                _back.PushResponses();
            }
            else if (_back.PushResponsesAndCheckNotify())
            {
                explorer.Notify();
            }
        }
    }

    private void Consumer(Explorer explorer)
    {
        if (_direction == Direction.Requests)
        {
            Require(BackRing<TestRequest, TestResponse, TAccess>.TryAttach(_region.Pointer, _region.Bytes, out _back), "attach failed");
        }

        while (true)
        {
            TakeEverything();
            if (_variant == ConsumerVariant.FinalCheck)
            {
                bool more = _direction == Direction.Requests ? _back.FinalCheckForRequests() : _front.FinalCheckForResponses();
                if (more)
                {
                    continue;
                }
            }
            else
            {
                uint waiting = _direction == Direction.Requests ? _back.UnconsumedRequests() : _front.UnconsumedResponses();
                if (waiting != 0)
                {
                    continue;
                }

                TAccess.Write(ConsumerEvent, ConsumedSoFar + 1);
                TAccess.FullBarrier();
            }

            if (!explorer.SleepUntilNotified())
            {
                return;
            }
        }
    }

    private void TakeEverything()
    {
        if (_direction == Direction.Requests)
        {
            while (_back.TryTakeRequest(out TestRequest request))
            {
                Require(request.IsIntact, "torn request");
                _received.Add(request.Sequence);
            }
        }
        else
        {
            while (_front.TryTakeResponse(out TestResponse response))
            {
                _received.Add(response.Sequence);
            }
        }
    }

    private string Check(Explorer explorer)
    {
        uint onRing = *ProducerIndex - ConsumedSoFar;
        if (explorer.ConsumerAsleep && onRing != 0)
        {
            return "lost wake-up: the consumer sleeps with " + onRing + " entr" + (onRing == 1 ? "y" : "ies")
                + " on the ring and no notification pending (" + explorer.Notifications + " sent)";
        }

        if (_received.Count != _messages)
        {
            return "received " + _received.Count + " of " + _messages;
        }

        for (int i = 0; i < _received.Count; i++)
        {
            if (_received[i] != (ulong)i)
            {
                return "out of order or duplicated: " + string.Join(",", _received);
            }
        }

        int arms = 0;
        foreach ((int thread, nint address, uint _) in explorer.Stores)
        {
            if (thread == Explorer.Consumer && address == (nint)ConsumerEvent)
            {
                arms++;
            }
        }

        // The initial event index (1) counts as one standing request for a notification.
        if (explorer.Notifications > 1 + arms)
        {
            return explorer.Notifications + " notifications for " + arms + " armings of the event index: one was sent while the consumer was busy";
        }

        // The consumer is asleep at the end of every execution; more than one sleep means it was woken.
        if (explorer.Sleeps > 1)
        {
            ExecutionsWithWakeUps++;
        }

        MinNotifications = Math.Min(MinNotifications, explorer.Notifications);
        MaxNotifications = Math.Max(MaxNotifications, explorer.Notifications);
        return null;
    }

    private static void Require(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException(what);
        }
    }
}

using System.Linq;
using Keel.Blkback.Tests.Support;
using Keel.Ringlib;
using Keel.Ringlib.Protocols;
using Xunit;

namespace Keel.Blkback.Tests;

/// <summary>HOSTILE-INPUTS classes 1 and 8: producer indices a front-end should never write, and a
/// front-end that never consumes its responses.</summary>
public sealed unsafe class HostileRingTests
{
    [Fact]
    public void A_producer_index_past_the_ring_cuts_the_front_end_off_before_any_request_is_taken()
    {
        using var rig = new Rig();
        rig.Header->RequestProducer = rig.RingSize + 1;
        rig.Step();

        Assert.True(rig.Engine.IsCutOff);
        Assert.Equal(RingStatus.ProducerOverflow, rig.Engine.CutOffReason);
        Assert.Equal(0ul, rig.Engine.Statistics.Requests);
        Assert.Empty(rig.Disk.Received);
        Assert.Equal(0u, rig.Header->ResponseProducer);
    }

    [Fact]
    public void A_producer_index_that_moves_backwards_cuts_the_front_end_off_and_what_it_sent_is_still_answered()
    {
        using var rig = new Rig();
        rig.Disk.Hold = true;
        rig.Push(Rig.Request(BlkifOperation.Read, 1, 0, rig.Page(1)), Rig.Request(BlkifOperation.Read, 2, 100, rig.Page(2)));
        rig.Step();
        rig.Header->RequestProducer = 1;
        rig.Step();

        Assert.Equal(RingStatus.ProducerRegressed, rig.Engine.CutOffReason);
        rig.Disk.Hold = false;
        rig.Run();
        Assert.Equal(new ulong[] { 1, 2 }, rig.Responses().Select(r => r.Id).OrderBy(id => id));
        Assert.Equal(2ul, rig.Engine.Statistics.Requests);
    }

    [Fact]
    public void Indices_that_wrap_at_2_to_the_32_are_followed_without_loss()
    {
        using var rig = new Rig(new RigOptions { StartIndex = 0xFFFF_FFF0 });
        for (ulong i = 0; i < 32; i++)
        {
            rig.Push(Rig.Request(BlkifOperation.Read, i, i * 100, rig.Page(10 + (uint)i)));
        }

        rig.Run();
        Assert.False(rig.Engine.IsCutOff);
        Assert.Equal(Enumerable.Range(0, 32).Select(i => (ulong)i), rig.Responses().Select(r => r.Id).OrderBy(id => id));
        Assert.Equal(0x10u, rig.Header->ResponseProducer);
    }

    [Fact]
    public void A_producer_index_too_far_ahead_across_the_wrap_is_caught()
    {
        using var rig = new Rig(new RigOptions { StartIndex = 0xFFFF_FFF0 });
        rig.Header->RequestProducer = 0x20;
        rig.Step();

        Assert.Equal(RingStatus.ProducerOverflow, rig.Engine.CutOffReason);
        Assert.Equal(0ul, rig.Engine.Statistics.Requests);
    }

    [Fact]
    public void A_front_end_that_never_consumes_responses_gets_no_more_taken_than_it_can_be_answered()
    {
        using var rig = new Rig();
        rig.Disk.Hold = true;
        for (ulong i = 0; i < rig.RingSize; i++)
        {
            rig.Push(Rig.Request(BlkifOperation.Read, i, i * 64, rig.Page(10 + (uint)i)));
        }

        rig.Step();
        Assert.Equal((int)rig.RingSize, rig.Engine.Pending);
        // Still consuming nothing, it publishes more requests than the unanswered slots leave room for.
        rig.Header->RequestProducer = rig.RingSize + 8;
        rig.Step();

        Assert.True(rig.Engine.IsCutOff);
        Assert.Equal(rig.RingSize, (uint)rig.Engine.Statistics.Requests);
        rig.Disk.Hold = false;
        rig.Run();
        // Each response went into the slot of a request already copied out: exactly one ring's worth.
        Assert.Equal(rig.RingSize, rig.Header->ResponseProducer);
        Assert.Equal(0, rig.Grants.Live);
    }

    [Fact]
    public void A_front_end_that_keeps_its_ring_full_is_asked_for_a_notification_once_its_answers_free_room()
    {
        using var rig = new Rig();
        BlkifRequest[] Round(ulong first) => Enumerable.Range(0, (int)rig.RingSize)
            .Select(i => Rig.Request(BlkifOperation.Read, first + (ulong)i, (ulong)i * 8, rig.Page(10 + (uint)i))).ToArray();
        Assert.True(rig.PushAndCheckNotify(Round(0)));
        // Every entry is now in use: the engine stops taking until some are answered.
        rig.Engine.ProcessRing();
        // The disk's interrupt: everything is answered, and only then can the front-end publish more.
        rig.Engine.ProcessCompletions();
        Assert.Equal((int)rig.RingSize, rig.Responses().Count);

        // Had the engine not asked again, this notification would be skipped and the ring left unserved.
        Assert.True(rig.PushAndCheckNotify(Round(100)));
        rig.Run();
        Assert.Equal((int)rig.RingSize, rig.Responses().Count);
    }

    [Fact]
    public void Requests_published_during_the_final_check_are_taken_in_the_same_call()
    {
        using var rig = new Rig();
        rig.Push(Rig.Request(BlkifOperation.Read, 1, 0, rig.Page(1)));
        rig.Engine.ProcessRing();

        // The engine asked for an event on the very next request, so an honest front-end notifies for it.
        Assert.Equal(rig.Header->RequestProducer + 1, rig.Header->RequestEvent);
    }
}

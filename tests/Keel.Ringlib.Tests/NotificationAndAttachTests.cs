using Keel.Ringlib.Tests.Support;
using Xunit;

namespace Keel.Ringlib.Tests;

/// <summary>Notification hold-off counted on the production rings, and re-attaching to live rings.</summary>
public sealed unsafe class NotificationAndAttachTests
{
    private static readonly uint EntryBytes = RingGeometry.EntryBytes<TestRequest, TestResponse>();

    [Fact]
    public void A_busy_back_end_costs_one_notification_per_idle_period_not_one_per_request()
    {
        using var region = new SharedRegion(RingGeometry.HeaderBytes + 64 * EntryBytes);
        Assert.True(FrontRing<TestRequest, TestResponse>.TryInitialize(region.Pointer, region.Bytes, out var front));
        Assert.True(BackRing<TestRequest, TestResponse>.TryAttach(region.Pointer, region.Bytes, out var back));
        int notifications = 0;
        ulong sequence = 0;

        for (int period = 0; period < 3; period++)
        {
            // The back-end is busy (it has not run its final check): only the first push of the period notifies.
            for (int i = 0; i < 20; i++)
            {
                Assert.True(front.TryWriteRequest(TestRequest.For(sequence++)));
                notifications += front.PushRequestsAndCheckNotify() ? 1 : 0;
            }

            Assert.Equal(period + 1, notifications);
            while (back.TryTakeRequest(out _))
            {
                back.TryWriteResponse(default);
            }

            back.PushResponses();
            while (front.TryTakeResponse(out _))
            {
            }

            Assert.False(back.FinalCheckForRequests());
        }
    }

    [Fact]
    public void Pushing_nothing_never_notifies()
    {
        using var region = new SharedRegion(RingGeometry.HeaderBytes + 8 * EntryBytes);
        Assert.True(FrontRing<TestRequest, TestResponse>.TryInitialize(region.Pointer, region.Bytes, out var front));
        Assert.False(front.PushRequestsAndCheckNotify());
        Assert.True(front.TryWriteRequest(TestRequest.For(0)));
        Assert.True(front.PushRequestsAndCheckNotify());
        Assert.False(front.PushRequestsAndCheckNotify());
    }

    [Fact]
    public void A_checked_push_after_unchecked_ones_notifies_a_back_end_that_went_idle_in_between()
    {
        using var region = new SharedRegion(RingGeometry.HeaderBytes + 8 * EntryBytes);
        Assert.True(FrontRing<TestRequest, TestResponse>.TryInitialize(region.Pointer, region.Bytes, out var front));
        Assert.True(BackRing<TestRequest, TestResponse>.TryAttach(region.Pointer, region.Bytes, out var back));
        Assert.True(front.TryWriteRequest(TestRequest.For(0)));
        Assert.True(front.PushRequestsAndCheckNotify());
        Assert.True(back.TryTakeRequest(out _));
        Assert.False(back.FinalCheckForRequests());

        // The burst's first request is published without a check, its last with one. io/ring.h would take the
        // current req_prod as "old" and stay silent here; the back-end, idle since before the burst, must be told.
        Assert.True(front.TryWriteRequest(TestRequest.For(1)));
        front.PushRequests();
        Assert.True(front.TryWriteRequest(TestRequest.For(2)));
        Assert.True(front.PushRequestsAndCheckNotify());
        Assert.False(front.PushRequestsAndCheckNotify());

        Assert.True(back.TryTakeRequest(out _));
        Assert.True(back.TryWriteResponse(default));
        back.PushResponses();
        Assert.True(back.PushResponsesAndCheckNotify());
    }

    [Fact]
    public void Initialising_a_front_ring_writes_the_shared_header_as_Xen_does()
    {
        using var region = new SharedRegion(4096);
        new System.Span<byte>(region.Pointer, 64).Fill(0xAA);
        Assert.True(FrontRing<TestRequest, TestResponse>.TryInitialize(region.Pointer, region.Bytes, out var front));
        Assert.Equal(0u, region.Header->RequestProducer);
        Assert.Equal(1u, region.Header->RequestEvent);
        Assert.Equal(0u, region.Header->ResponseProducer);
        Assert.Equal(1u, region.Header->ResponseEvent);
        for (int i = 16; i < 64; i++)
        {
            Assert.Equal(0, region.Pointer[i]);
        }

        Assert.Equal(128u, front.Size);
        Assert.Equal(128u, front.FreeRequests);
    }

    [Fact]
    public void A_region_too_small_for_one_slot_is_refused()
    {
        using var region = new SharedRegion(4096);
        Assert.False(FrontRing<TestRequest, TestResponse>.TryInitialize(region.Pointer, RingGeometry.HeaderBytes + EntryBytes - 1, out _));
        Assert.False(BackRing<TestRequest, TestResponse>.TryAttach(region.Pointer, 10, out _));
        Assert.False(BackRing<TestRequest, TestResponse>.TryAttach(null, 4096, out _));
    }

    [Fact]
    public void A_restarted_back_end_attaches_at_the_shared_indices_and_answers_everything_unanswered()
    {
        using var region = new SharedRegion(RingGeometry.HeaderBytes + 8 * EntryBytes);
        Assert.True(FrontRing<TestRequest, TestResponse>.TryInitialize(region.Pointer, region.Bytes, out var front));
        Assert.True(BackRing<TestRequest, TestResponse>.TryAttach(region.Pointer, region.Bytes, out var old));
        for (ulong i = 0; i < 6; i++)
        {
            Assert.True(front.TryWriteRequest(TestRequest.For(i)));
        }

        front.PushRequests();
        // The old back-end answers two, takes two more without answering, and dies.
        for (int i = 0; i < 4; i++)
        {
            Assert.True(old.TryTakeRequest(out TestRequest r));
            if (i < 2)
            {
                Assert.True(old.TryWriteResponse(new TestResponse { Sequence = r.Sequence }));
            }
        }

        old.PushResponses();

        Assert.True(BackRing<TestRequest, TestResponse>.TryAttachAtSharedIndices(region.Pointer, region.Bytes, out var fresh));
        Assert.Equal(2u, fresh.RequestConsumer);
        Assert.Equal(2u, fresh.ResponseProducer);
        for (ulong expected = 2; expected < 6; expected++)
        {
            Assert.True(fresh.TryTakeRequest(out TestRequest r));
            Assert.Equal(expected, r.Sequence);
            Assert.True(fresh.TryWriteResponse(new TestResponse { Sequence = r.Sequence }));
        }

        Assert.False(fresh.TryTakeRequest(out _));
        fresh.PushResponses();
        for (ulong expected = 0; expected < 6; expected++)
        {
            Assert.True(front.TryTakeResponse(out TestResponse response));
            Assert.Equal(expected, response.Sequence);
        }

        Assert.False(front.TryTakeResponse(out _));
    }

    [Fact]
    public void A_re_attached_front_end_keeps_in_flight_requests_in_flight()
    {
        using var region = new SharedRegion(RingGeometry.HeaderBytes + 8 * EntryBytes);
        Assert.True(FrontRing<TestRequest, TestResponse>.TryInitialize(region.Pointer, region.Bytes, out var old));
        Assert.True(BackRing<TestRequest, TestResponse>.TryAttach(region.Pointer, region.Bytes, out var back));
        for (ulong i = 0; i < 5; i++)
        {
            Assert.True(old.TryWriteRequest(TestRequest.For(i)));
        }

        old.PushRequests();
        Assert.True(back.TryTakeRequest(out _));
        Assert.True(back.TryWriteResponse(new TestResponse { Sequence = 0 }));
        back.PushResponses();

        Assert.True(FrontRing<TestRequest, TestResponse>.TryAttachAtSharedIndices(region.Pointer, region.Bytes, out var fresh));
        Assert.Equal(5u, fresh.RequestProducer);
        Assert.Equal(1u, fresh.ResponseConsumer);
        Assert.Equal(4u, fresh.RequestsInFlight);
        Assert.Equal(4u, fresh.FreeRequests);
        Assert.True(back.TryTakeRequest(out TestRequest second));
        Assert.True(back.TryWriteResponse(new TestResponse { Sequence = second.Sequence }));
        back.PushResponses();
        Assert.True(fresh.TryTakeResponse(out TestResponse response));
        Assert.Equal(1ul, response.Sequence);
        Assert.Equal(RingStatus.Ok, fresh.Status);
    }

    [Fact]
    public void Attaching_at_shared_indices_that_claim_more_than_the_ring_holds_is_refused()
    {
        using var region = new SharedRegion(RingGeometry.HeaderBytes + 8 * EntryBytes);
        region.Header->RequestProducer = 109;
        region.Header->ResponseProducer = 100;
        Assert.False(BackRing<TestRequest, TestResponse>.TryAttachAtSharedIndices(region.Pointer, region.Bytes, out _));
        Assert.False(FrontRing<TestRequest, TestResponse>.TryAttachAtSharedIndices(region.Pointer, region.Bytes, out _));
        region.Header->RequestProducer = 108;
        Assert.True(BackRing<TestRequest, TestResponse>.TryAttachAtSharedIndices(region.Pointer, region.Bytes, out var back));
        Assert.Equal(8u, back.UnconsumedRequests());
    }

    [Fact]
    public void A_back_end_cannot_answer_a_request_it_has_not_taken()
    {
        using var region = new SharedRegion(RingGeometry.HeaderBytes + 8 * EntryBytes);
        Assert.True(FrontRing<TestRequest, TestResponse>.TryInitialize(region.Pointer, region.Bytes, out var front));
        Assert.True(BackRing<TestRequest, TestResponse>.TryAttach(region.Pointer, region.Bytes, out var back));
        Assert.False(back.TryWriteResponse(default));
        Assert.True(front.TryWriteRequest(TestRequest.For(3)));
        front.PushRequests();
        Assert.False(back.TryWriteResponse(default));
        Assert.True(back.TryTakeRequest(out _));
        Assert.True(back.TryWriteResponse(default));
        Assert.False(back.TryWriteResponse(default));
    }
}

using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using Keel.Ringlib.Tests.Support;
using Xunit;

namespace Keel.Ringlib.Tests;

/// <summary>A 64-byte message: a sequence number, payload derived from it, and a checksum over both.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct StressMessage
{
    public ulong Sequence;
    public fixed ulong Payload[6];
    public ulong Checksum;

    public static StressMessage For(ulong sequence)
    {
        var m = new StressMessage { Sequence = sequence };
        for (int i = 0; i < 6; i++)
        {
            m.Payload[i] = TestRequest.Mix(sequence * 7 + (ulong)i);
        }

        m.Checksum = m.Compute();
        return m;
    }

    public readonly ulong Compute()
    {
        ulong sum = TestRequest.Mix(Sequence);
        for (int i = 0; i < 6; i++)
        {
            sum = TestRequest.Mix(sum ^ Payload[i]);
        }

        return sum;
    }
}

/// <summary>
/// Two real threads on both cores push millions of 64-byte requests through a ring and answer each one.
/// Every request carries a sequence number and a checksum; the back-end checks both and echoes them, the
/// front-end checks every response. Both sides sleep on a latched event when the final check says so.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class StressTests
{
    private const uint RegionBytes = 16 * 4096;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private readonly ITestOutputHelper _output;

    public StressTests(ITestOutputHelper output) => _output = output;

    [Theory]
    [InlineData(2_000_000, 1)]
    [InlineData(2_000_000, 16)]
    public void Millions_of_messages_cross_the_ring_intact_and_in_order(int messages, int batch)
    {
        using var region = new SharedRegion(RegionBytes);
        using var toBack = new LatchedEvent();
        using var toFront = new LatchedEvent();
        Assert.True(FrontRing<StressMessage, StressMessage>.TryInitialize(region.Pointer, region.Bytes, out var front));
        Assert.True(BackRing<StressMessage, StressMessage>.TryAttach(region.Pointer, region.Bytes, out var back));
        Assert.Equal(512u, front.Size);

        string backError = null;
        long backSleeps = 0;
        var stopwatch = Stopwatch.StartNew();
        var backThread = new Thread(() =>
        {
            ulong expected = 0;
            while (expected < (ulong)messages && backError == null)
            {
                while (back.TryTakeRequest(out StressMessage request))
                {
                    if (request.Sequence != expected || request.Checksum != request.Compute())
                    {
                        backError = "request " + expected + " arrived as " + request.Sequence + " (checksum " + (request.Checksum == request.Compute() ? "good" : "bad") + ")";
                        return;
                    }

                    back.TryWriteResponse(request);
                    expected++;
                    if (expected % (ulong)batch == 0 && back.PushResponsesAndCheckNotify())
                    {
                        toFront.Notify();
                    }
                }

                if (back.PushResponsesAndCheckNotify())
                {
                    toFront.Notify();
                }

                // Poll briefly before going idle, as a busy back-end would: sleeping at the first empty look
                // costs the front-end a notification for nearly every message.
                for (int spin = 0; spin < 100 && back.UnconsumedRequests() == 0; spin++)
                {
                    Thread.SpinWait(20);
                }

                if (expected < (ulong)messages && !back.FinalCheckForRequests())
                {
                    backSleeps++;
                    if (!toBack.Wait(Deadline))
                    {
                        backError = "back-end starved at " + expected + " (status " + back.Status + ")";
                        return;
                    }
                }
            }
        })
        { IsBackground = true, Name = "stress-back" };
        backThread.Start();

        ulong sent = 0;
        ulong received = 0;
        string frontError = null;
        long frontSleeps = 0;
        while (received < (ulong)messages && frontError == null && backError == null)
        {
            int written = 0;
            while (sent < (ulong)messages && written < batch && front.TryWriteRequest(StressMessage.For(sent)))
            {
                sent++;
                written++;
            }

            if (front.PushRequestsAndCheckNotify())
            {
                toBack.Notify();
            }

            bool progress = written > 0;
            while (front.TryTakeResponse(out StressMessage response))
            {
                if (response.Sequence != received || response.Checksum != response.Compute())
                {
                    frontError = "response " + received + " arrived as " + response.Sequence;
                    break;
                }

                received++;
                progress = true;
            }

            for (int spin = 0; !progress && spin < 100 && front.UnconsumedResponses() == 0; spin++)
            {
                Thread.SpinWait(20);
            }

            if (!progress && !front.FinalCheckForResponses())
            {
                frontSleeps++;
                if (!toFront.Wait(Deadline))
                {
                    frontError = "front-end starved at " + received + " (status " + front.Status + ")";
                }
            }

            if (stopwatch.Elapsed > Deadline)
            {
                frontError = "did not finish in time: " + received + " of " + messages;
            }
        }

        backThread.Join(Deadline);
        stopwatch.Stop();
        _output.WriteLine($"{messages:N0} round trips, batch {batch}: {stopwatch.Elapsed.TotalMilliseconds:F0} ms, "
            + $"{toBack.Sent} notifications to the back-end, {toFront.Sent} to the front-end, sleeps {backSleeps}/{frontSleeps}");

        Assert.Null(backError);
        Assert.Null(frontError);
        Assert.Equal((ulong)messages, received);
        Assert.Equal(RingStatus.Ok, front.Status);
        Assert.Equal(RingStatus.Ok, back.Status);
        Assert.Equal((uint)messages, region.Header->RequestProducer);
        Assert.Equal((uint)messages, region.Header->ResponseProducer);
        // Hold-off works under load: far fewer notifications than messages in either direction.
        Assert.True(toBack.Sent < messages / 10, "notifications to the back-end: " + toBack.Sent);
        Assert.True(toFront.Sent < messages / 10, "notifications to the front-end: " + toFront.Sent);
    }
}

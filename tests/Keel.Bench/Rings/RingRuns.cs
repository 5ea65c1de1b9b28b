using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using Keel.Ringlib;

namespace Keel.Bench.Rings;

/// <summary>
/// The ring under load between two threads, used the way a front-end and a back-end use it: the producer
/// (front-end) writes 64-byte requests, the consumer (back-end) copies each out, answers it with a small
/// response that frees the slot, and each side notifies the other only when push-and-check-notify says so.
/// An idle side polls for a short while, then runs its final check and sleeps on a latched event. Each
/// side's ring state is a local of its own thread, so private counters never share a cache line.
/// </summary>
public static unsafe class RingRuns
{
    /// <summary>16 pages: 512 slots of 64 bytes.</summary>
    public const uint RegionBytes = 16 * 4096;

    /// <summary>How long an idle side keeps looking for work before it runs its final check and sleeps. It must
    /// exceed the time a sleeping thread takes to wake (tens of microseconds on a virtual machine whose idle
    /// CPU halts): with a shorter window the two sides fall into step, each sleeping while the other wakes.</summary>
    public const double DefaultPollMicroseconds = 200;

    /// <summary>Requests flow one way as fast as possible. With batch 1 every request and every response is
    /// published (and checked for notification) on its own; with batch n they are published n at a time.</summary>
    public static RunOutcome Throughput(long messages, int batch, double pollMicroseconds = DefaultPollMicroseconds)
    {
        byte* region = AllocateRing();
        try
        {
            using var toConsumer = new LatchedEvent();
            using var toProducer = new LatchedEvent();
            long notificationsToConsumer = 0;
            long notificationsToProducer = 0;
            Exception failure = null;

            var consumer = new Thread(() =>
            {
                try
                {
                    notificationsToProducer = ConsumeAndAnswer(region, messages, batch, pollMicroseconds, toConsumer, toProducer, echoOnly: false);
                }
                catch (Exception e)
                {
                    failure = e;
                }
            }) { Name = "ring-consumer", IsBackground = true };

            var watch = Stopwatch.StartNew();
            consumer.Start();
            notificationsToConsumer = Produce(region, messages, batch, pollMicroseconds, toConsumer, toProducer);
            consumer.Join();
            watch.Stop();
            if (failure != null)
            {
                throw new InvalidOperationException("ring consumer failed", failure);
            }

            return new RunOutcome
            {
                Messages = messages,
                Seconds = watch.Elapsed.TotalSeconds,
                NotificationsToConsumer = notificationsToConsumer,
                NotificationsToProducer = notificationsToProducer,
            };
        }
        finally
        {
            NativeMemory.AlignedFree(region);
        }
    }

    /// <summary>One request at a time: the producer waits for each response before sending the next.</summary>
    public static RunOutcome RoundTrips(int count, double pollMicroseconds)
    {
        byte* region = AllocateRing();
        try
        {
            using var toConsumer = new LatchedEvent();
            using var toProducer = new LatchedEvent();
            Exception failure = null;
            long notificationsToProducer = 0;
            var consumer = new Thread(() =>
            {
                try
                {
                    notificationsToProducer = ConsumeAndAnswer(region, count, 1, pollMicroseconds, toConsumer, toProducer, echoOnly: true);
                }
                catch (Exception e)
                {
                    failure = e;
                }
            }) { Name = "ring-echo", IsBackground = true };
            consumer.Start();

            if (!FrontRing<Message64, Completion>.TryAttach(region, RegionBytes, 0, out var front))
            {
                throw new InvalidOperationException("attach failed");
            }

            var samples = new double[count];
            double nanosecondsPerTick = 1e9 / Stopwatch.Frequency;
            long notifications = 0;
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < count; i++)
            {
                long start = Stopwatch.GetTimestamp();
                front.TryWriteRequest(Message64.For((ulong)i));
                if (front.PushRequestsAndCheckNotify())
                {
                    notifications++;
                    toConsumer.Notify();
                }

                Completion done;
                while (!front.TryTakeResponse(out done))
                {
                    if (!Poll(ref front, pollMicroseconds) && !front.FinalCheckForResponses())
                    {
                        toProducer.Wait();
                    }
                }

                samples[i] = (Stopwatch.GetTimestamp() - start) * nanosecondsPerTick;
                if (done.Sequence != (ulong)i)
                {
                    throw new InvalidOperationException("response " + done.Sequence + " for request " + i);
                }
            }

            watch.Stop();
            consumer.Join();
            if (failure != null)
            {
                throw new InvalidOperationException("ring echo failed", failure);
            }

            return new RunOutcome
            {
                Messages = count,
                Seconds = watch.Elapsed.TotalSeconds,
                NotificationsToConsumer = notifications,
                NotificationsToProducer = notificationsToProducer,
                RoundTripNanoseconds = samples,
            };
        }
        finally
        {
            NativeMemory.AlignedFree(region);
        }
    }

    private static byte* AllocateRing()
    {
        byte* region = (byte*)NativeMemory.AlignedAlloc(RegionBytes, 4096);
        NativeMemory.Clear(region, RegionBytes);
        if (!FrontRing<Message64, Completion>.TryInitialize(region, RegionBytes, out var ring) || ring.Size != 512)
        {
            throw new InvalidOperationException("ring setup failed");
        }

        return region;
    }

    private static long Produce(byte* region, long messages, int batch, double pollMicroseconds, LatchedEvent toConsumer, LatchedEvent toProducer)
    {
        if (!FrontRing<Message64, Completion>.TryAttach(region, RegionBytes, 0, out var front))
        {
            throw new InvalidOperationException("attach failed");
        }

        long notifications = 0;
        long sent = 0;
        long completed = 0;
        while (completed < messages)
        {
            int wrote = 0;
            while (sent < messages && wrote < batch && front.TryWriteRequest(Message64.For((ulong)sent)))
            {
                sent++;
                wrote++;
                if (batch == 1 && front.PushRequestsAndCheckNotify())
                {
                    notifications++;
                    toConsumer.Notify();
                }
            }

            if (front.PushRequestsAndCheckNotify())
            {
                notifications++;
                toConsumer.Notify();
            }

            // Responses are only needed to free slots: reap them once half the ring is in flight (or when
            // everything has been sent), not after every publish, which would pull the shared header across
            // cores once more per message.
            int answered = 0;
            bool reap = front.FreeRequests < front.Size / 2 || sent == messages;
            while (reap && front.TryTakeResponse(out Completion done))
            {
                if (done.Sequence != (ulong)completed)
                {
                    throw new InvalidOperationException("response " + done.Sequence + " where " + completed + " was due");
                }

                completed++;
                answered++;
            }

            if (wrote == 0 && answered == 0 && !Poll(ref front, pollMicroseconds) && !front.FinalCheckForResponses())
            {
                toProducer.Wait();
            }
        }

        return notifications;
    }

    private static long ConsumeAndAnswer(byte* region, long messages, int batch, double pollMicroseconds, LatchedEvent toConsumer, LatchedEvent toProducer, bool echoOnly)
    {
        if (!BackRing<Message64, Completion>.TryAttach(region, RegionBytes, out var back))
        {
            throw new InvalidOperationException("attach failed");
        }

        long notifications = 0;
        long received = 0;
        while (received < messages)
        {
            int took = 0;
            while (back.TryTakeRequest(out Message64 request))
            {
                if (request.Sequence != (ulong)received || (!echoOnly && !request.IsIntact))
                {
                    throw new InvalidOperationException("request " + request.Sequence + " where " + received + " was due");
                }

                back.TryWriteResponse(new Completion { Sequence = request.Sequence });
                received++;
                took++;
                if (took % batch == 0 && back.PushResponsesAndCheckNotify())
                {
                    notifications++;
                    toProducer.Notify();
                }
            }

            if (back.PushResponsesAndCheckNotify())
            {
                notifications++;
                toProducer.Notify();
            }

            if (took == 0 && received < messages && !Poll(ref back, pollMicroseconds) && !back.FinalCheckForRequests())
            {
                toConsumer.Wait();
            }
        }

        return notifications;
    }

    /// <summary>Looks for responses for up to <paramref name="microseconds"/>; true as soon as one is there.
    /// Pauses between looks and reads the clock only every 32 looks.</summary>
    private static bool Poll(ref FrontRing<Message64, Completion> front, double microseconds)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(microseconds * Stopwatch.Frequency / 1e6);
        for (int i = 0; microseconds > 0; i++)
        {
            if (front.UnconsumedResponses() != 0)
            {
                return true;
            }

            Spin.Pause();
            if ((i & 31) == 31 && Stopwatch.GetTimestamp() > deadline)
            {
                break;
            }
        }

        return false;
    }

    private static bool Poll(ref BackRing<Message64, Completion> back, double microseconds)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(microseconds * Stopwatch.Frequency / 1e6);
        for (int i = 0; microseconds > 0; i++)
        {
            if (back.UnconsumedRequests() != 0)
            {
                return true;
            }

            Spin.Pause();
            if ((i & 31) == 31 && Stopwatch.GetTimestamp() > deadline)
            {
                break;
            }
        }

        return false;
    }
}

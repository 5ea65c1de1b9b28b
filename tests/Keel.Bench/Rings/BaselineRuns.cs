using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace Keel.Bench.Rings;

/// <summary>
/// The same workloads over the standard library's queues, used the way their documentation recommends.
/// System.Threading.Channels: a bounded channel of the ring's capacity, single reader and single writer,
/// either one awaited call per message ("unbatched") or the TryWrite/TryRead loops that only await when
/// the channel is full or empty ("batched"). ConcurrentQueue: no waiting primitive of its own, so both sides
/// spin (with the same pause as the ring's polling); the producer holds back once 512 messages are
/// unconsumed, so it is bounded like the others.
/// Neither carries a response per message: the ring does strictly more work in these comparisons.
/// </summary>
public static class BaselineRuns
{
    public const int Capacity = 512;

    public static RunOutcome ChannelThroughput(long messages, bool batched)
    {
        Channel<Message64> channel = Channel.CreateBounded<Message64>(new BoundedChannelOptions(Capacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        ChannelWriter<Message64> writer = channel.Writer;
        ChannelReader<Message64> reader = channel.Reader;

        async Task ProduceUnbatched()
        {
            for (long i = 0; i < messages; i++)
            {
                await writer.WriteAsync(Message64.For((ulong)i)).ConfigureAwait(false);
            }
        }

        async Task ProduceBatched()
        {
            for (long i = 0; i < messages; i++)
            {
                Message64 m = Message64.For((ulong)i);
                while (!writer.TryWrite(m))
                {
                    await writer.WaitToWriteAsync().ConfigureAwait(false);
                }
            }
        }

        async Task ConsumeUnbatched()
        {
            for (long i = 0; i < messages; i++)
            {
                Message64 m = await reader.ReadAsync().ConfigureAwait(false);
                Check(m, i);
            }
        }

        async Task ConsumeBatched()
        {
            long received = 0;
            while (received < messages && await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out Message64 m))
                {
                    Check(m, received++);
                }
            }
        }

        var watch = Stopwatch.StartNew();
        Task consumer = Task.Run(batched ? ConsumeBatched : ConsumeUnbatched);
        Task producer = Task.Run(batched ? ProduceBatched : ProduceUnbatched);
        Task.WaitAll(producer, consumer);
        watch.Stop();
        return new RunOutcome { Messages = messages, Seconds = watch.Elapsed.TotalSeconds };
    }

    public static RunOutcome ConcurrentQueueThroughput(long messages)
    {
        var queue = new ConcurrentQueue<Message64>();
        var consumed = new PaddedCounter();
        Exception failure = null;
        var consumer = new Thread(() =>
        {
            try
            {
                long received = 0;
                while (received < messages)
                {
                    if (queue.TryDequeue(out Message64 m))
                    {
                        Check(m, received++);
                        if ((received & 63) == 0)
                        {
                            Volatile.Write(ref consumed.Value, received);
                        }

                    }
                    else
                    {
                        Volatile.Write(ref consumed.Value, received);
                        Spin.Pause();
                    }
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { Name = "queue-consumer", IsBackground = true };

        var watch = Stopwatch.StartNew();
        consumer.Start();
        long known = 0;
        for (long i = 0; i < messages; i++)
        {
            if (i - known >= Capacity)
            {
                while (i - (known = Volatile.Read(ref consumed.Value)) >= Capacity)
                {
                    Spin.Pause();
                }
            }

            queue.Enqueue(Message64.For((ulong)i));
        }

        consumer.Join();
        watch.Stop();
        if (failure != null)
        {
            throw new InvalidOperationException("queue consumer failed", failure);
        }

        return new RunOutcome { Messages = messages, Seconds = watch.Elapsed.TotalSeconds };
    }

    /// <summary>Ping-pong over two bounded channels, the idiomatic way: both sides are async methods on the
    /// thread pool. The echo's continuation often runs on the very thread that wrote the ping, so the round
    /// trip may never cross threads; the outcome counts how often that happened.</summary>
    public static RunOutcome ChannelRoundTripsAsync(int count)
    {
        var options = new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true };
        Channel<Message64> ping = Channel.CreateBounded<Message64>(options);
        Channel<Message64> pong = Channel.CreateBounded<Message64>(options);
        int echoThread = 0;
        long sameThread = 0;

        async Task Echo()
        {
            for (int i = 0; i < count; i++)
            {
                Message64 m = await ping.Reader.ReadAsync().ConfigureAwait(false);
                Volatile.Write(ref echoThread, Environment.CurrentManagedThreadId);
                await pong.Writer.WriteAsync(m).ConfigureAwait(false);
            }
        }

        var samples = new double[count];
        double nanosecondsPerTick = 1e9 / Stopwatch.Frequency;
        async Task Drive()
        {
            for (int i = 0; i < count; i++)
            {
                long start = Stopwatch.GetTimestamp();
                await ping.Writer.WriteAsync(Message64.For((ulong)i)).ConfigureAwait(false);
                Message64 back = await pong.Reader.ReadAsync().ConfigureAwait(false);
                samples[i] = (Stopwatch.GetTimestamp() - start) * nanosecondsPerTick;
                Check(back, i);
                if (Volatile.Read(ref echoThread) == Environment.CurrentManagedThreadId)
                {
                    sameThread++;
                }
            }
        }

        var watch = Stopwatch.StartNew();
        Task echo = Task.Run(Echo);
        Task.Run(Drive).Wait();
        echo.Wait();
        watch.Stop();
        return new RunOutcome { Messages = count, Seconds = watch.Elapsed.TotalSeconds, RoundTripNanoseconds = samples, SameThreadRoundTrips = sameThread };
    }

    /// <summary>Ping-pong over two bounded channels between two dedicated threads, each blocking on the
    /// channel's ValueTask when it has to wait: a round trip always crosses threads, as the ring's does.</summary>
    public static RunOutcome ChannelRoundTripsBetweenThreads(int count)
    {
        var options = new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true };
        Channel<Message64> ping = Channel.CreateBounded<Message64>(options);
        Channel<Message64> pong = Channel.CreateBounded<Message64>(options);
        var echo = new Thread(() =>
        {
            for (int i = 0; i < count; i++)
            {
                Message64 m = Await(ping.Reader.ReadAsync());
                Await(pong.Writer.WriteAsync(m));
            }
        }) { Name = "channel-echo", IsBackground = true };
        echo.Start();

        var samples = new double[count];
        double nanosecondsPerTick = 1e9 / Stopwatch.Frequency;
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            Await(ping.Writer.WriteAsync(Message64.For((ulong)i)));
            Message64 back = Await(pong.Reader.ReadAsync());
            samples[i] = (Stopwatch.GetTimestamp() - start) * nanosecondsPerTick;
            Check(back, i);
        }

        watch.Stop();
        echo.Join();
        return new RunOutcome { Messages = count, Seconds = watch.Elapsed.TotalSeconds, RoundTripNanoseconds = samples };
    }

    private static T Await<T>(ValueTask<T> task) => task.IsCompletedSuccessfully ? task.Result : task.AsTask().GetAwaiter().GetResult();

    private static void Await(ValueTask task)
    {
        if (!task.IsCompletedSuccessfully)
        {
            task.AsTask().GetAwaiter().GetResult();
        }
    }

    public static RunOutcome ConcurrentQueueRoundTrips(int count)
    {
        var ping = new ConcurrentQueue<Message64>();
        var pong = new ConcurrentQueue<Message64>();
        var echo = new Thread(() =>
        {
            for (int i = 0; i < count; i++)
            {
                Message64 m;
                while (!ping.TryDequeue(out m))
                {
                    Spin.Pause();
                }

                pong.Enqueue(m);
            }
        }) { Name = "queue-echo", IsBackground = true };
        echo.Start();

        var samples = new double[count];
        double nanosecondsPerTick = 1e9 / Stopwatch.Frequency;
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            ping.Enqueue(Message64.For((ulong)i));
            Message64 back;
            while (!pong.TryDequeue(out back))
            {
                Spin.Pause();
            }

            samples[i] = (Stopwatch.GetTimestamp() - start) * nanosecondsPerTick;
            Check(back, i);
        }

        watch.Stop();
        echo.Join();
        return new RunOutcome { Messages = count, Seconds = watch.Elapsed.TotalSeconds, RoundTripNanoseconds = samples };
    }

    private static void Check(in Message64 m, long expected)
    {
        if (m.Sequence != (ulong)expected || !m.IsIntact)
        {
            throw new InvalidOperationException("message " + m.Sequence + " where " + expected + " was due");
        }
    }

    /// <summary>A counter alone on its cache lines, so the producer's reads do not collide with other data.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private sealed class PaddedCounter
    {
        [FieldOffset(128)] public long Value;
    }
}

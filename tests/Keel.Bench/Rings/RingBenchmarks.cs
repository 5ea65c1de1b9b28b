using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace Keel.Bench.Rings;

/// <summary>
/// ringlib against System.Threading.Channels and ConcurrentQueue, measured in the same process on the same
/// machine: single-producer/single-consumer throughput of 64-byte messages with and without batching,
/// round-trip latency between two threads, and notifications per message under sustained load.
/// </summary>
public sealed class RingBenchmarks : IBenchmark
{
    private const int Repetitions = 5;
    private const double SecondsPerRun = 0.4;
    private const double SecondsPerLatencyRun = 0.5;
    private const int Batch = 32;

    private sealed record Throughput(string Transport, string Mode, RunOutcome[] Runs)
    {
        public RunOutcome Median => Runs.OrderBy(r => r.MessagesPerSecond).ElementAt(Runs.Length / 2);
    }

    private sealed record Latency(string Transport, string Waiting, RunOutcome Run)
    {
        private double[] Sorted => Run.RoundTripNanoseconds.OrderBy(x => x).ToArray();

        public double Percentile(double p)
        {
            double[] sorted = Sorted;
            return sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
        }

        public double Mean => Run.RoundTripNanoseconds.Average();
    }

    public BenchmarkSection Run()
    {
        var section = new BenchmarkSection("ringlib: shared-memory rings");

        Throughput ringBatched = MeasureThroughput("ringlib ring", "batched (32 per publish)", n => RingRuns.Throughput(n, Batch));
        Throughput ringUnbatched = MeasureThroughput("ringlib ring", "unbatched (publish and check every message)", n => RingRuns.Throughput(n, 1));
        Throughput channelBatched = MeasureThroughput("Channels (bounded 512, SPSC)", "batched (TryWrite/TryRead loops)", n => BaselineRuns.ChannelThroughput(n, batched: true));
        Throughput channelUnbatched = MeasureThroughput("Channels (bounded 512, SPSC)", "unbatched (WriteAsync/ReadAsync per message)", n => BaselineRuns.ChannelThroughput(n, batched: false));
        Throughput queue = MeasureThroughput("ConcurrentQueue (spinning, 512 credits)", "per message (no batching API)", BaselineRuns.ConcurrentQueueThroughput);

        Latency ringSpin = MeasureLatency("ringlib ring", "poll up to " + RingRuns.DefaultPollMicroseconds + " µs, then final check and sleep", n => RingRuns.RoundTrips(n, RingRuns.DefaultPollMicroseconds));
        Latency ringSleep = MeasureLatency("ringlib ring", "final check and sleep at once", n => RingRuns.RoundTrips(n, 0));
        Latency channelLatency = MeasureLatency("Channels (bounded 1, SPSC)", "await ReadAsync", BaselineRuns.ChannelRoundTrips);
        Latency queueLatency = MeasureLatency("ConcurrentQueue", "spin", BaselineRuns.ConcurrentQueueRoundTrips);

        const string Throughputs = "msg/s";
        const string Nanoseconds = "ns";
        string channelsB = "System.Threading.Channels bounded SPSC, batched";
        string channelsU = "System.Threading.Channels bounded SPSC, unbatched";
        string queueName = "ConcurrentQueue SPSC";
        double rb = ringBatched.Median.MessagesPerSecond;
        double ru = ringUnbatched.Median.MessagesPerSecond;
        double cb = channelBatched.Median.MessagesPerSecond;
        double cu = channelUnbatched.Median.MessagesPerSecond;
        double cq = queue.Median.MessagesPerSecond;

        section.Results.Add(new BenchmarkResult("ringlib.spsc_throughput.batched", rb, Throughputs, channelsB, cb));
        section.Results.Add(new BenchmarkResult("ringlib.spsc_throughput.unbatched", ru, Throughputs, channelsU, cu));
        section.Results.Add(new BenchmarkResult("ringlib.spsc_throughput.batched_vs_concurrent_queue", rb, Throughputs, queueName, cq));
        section.Results.Add(new BenchmarkResult("ringlib.spsc_throughput.unbatched_vs_concurrent_queue", ru, Throughputs, queueName, cq));
        section.Results.Add(new BenchmarkResult("baseline.channels.spsc_throughput.batched", cb, Throughputs));
        section.Results.Add(new BenchmarkResult("baseline.channels.spsc_throughput.unbatched", cu, Throughputs));
        section.Results.Add(new BenchmarkResult("baseline.concurrent_queue.spsc_throughput", cq, Throughputs));
        section.Results.Add(new BenchmarkResult("ringlib.round_trip_latency.p50", ringSpin.Percentile(0.5), Nanoseconds, "System.Threading.Channels p50", channelLatency.Percentile(0.5)));
        section.Results.Add(new BenchmarkResult("ringlib.round_trip_latency.p99", ringSpin.Percentile(0.99), Nanoseconds, "System.Threading.Channels p99", channelLatency.Percentile(0.99)));
        section.Results.Add(new BenchmarkResult("ringlib.round_trip_latency.p50_vs_concurrent_queue", ringSpin.Percentile(0.5), Nanoseconds, "ConcurrentQueue (spinning) p50", queueLatency.Percentile(0.5)));
        section.Results.Add(new BenchmarkResult("ringlib.round_trip_latency_sleeping.p50", ringSleep.Percentile(0.5), Nanoseconds, "System.Threading.Channels p50", channelLatency.Percentile(0.5)));
        section.Results.Add(new BenchmarkResult("baseline.channels.round_trip_latency.p50", channelLatency.Percentile(0.5), Nanoseconds));
        section.Results.Add(new BenchmarkResult("baseline.concurrent_queue.round_trip_latency.p50", queueLatency.Percentile(0.5), Nanoseconds));
        section.Results.Add(new BenchmarkResult("ringlib.notifications_per_message.batched", ringBatched.Median.NotificationsPerMessage, "notifications/msg"));
        section.Results.Add(new BenchmarkResult("ringlib.notifications_per_message.unbatched", ringUnbatched.Median.NotificationsPerMessage, "notifications/msg"));

        section.Goals.Add(new BenchmarkGoal("ring throughput >= 3x Channels, batched vs batched", rb >= 3 * cb, $"{rb / cb:F2}x ({rb:N0} vs {cb:N0} msg/s)"));
        section.Goals.Add(new BenchmarkGoal("ring throughput >= 3x Channels, unbatched vs unbatched", ru >= 3 * cu, $"{ru / cu:F2}x ({ru:N0} vs {cu:N0} msg/s)"));
        double worstNotifications = Math.Max(ringBatched.Median.NotificationsPerMessage, ringUnbatched.Median.NotificationsPerMessage);
        section.Goals.Add(new BenchmarkGoal("< 0.1 notifications per message under sustained load", worstNotifications < 0.1,
            $"{ringBatched.Median.NotificationsPerMessage:F5} batched, {ringUnbatched.Median.NotificationsPerMessage:F5} unbatched"));

        section.Body.Add(
            "Single producer, single consumer, 64-byte messages, two threads on the machine's two cores, all transports in the same process. " +
            "Each throughput figure is the median of " + Repetitions + " runs of about " + SecondsPerRun + " s (after a warm-up run). " +
            "The ring is used as a front-end and back-end use it: every request is copied out by the consumer and answered with an 8-byte " +
            "response that frees its slot, so the ring moves a response per message that the baselines do not. Sides notify each other " +
            "only when push-and-check-notify says so; an idle side polls for a few microseconds, then runs its final check and sleeps on a " +
            "latched event (a semaphore). Ring and Channels hold 512 messages; the ConcurrentQueue producer stops at 512 unconsumed messages.");
        section.Body.Add(ThroughputTable(new[] { ringBatched, ringUnbatched, channelBatched, channelUnbatched, queue }, cb, cu));
        section.Body.Add(
            "Round trips: the producer sends one message and waits for the answer before sending the next. " +
            "The ring's latency depends on whether the waiting side polls before sleeping; both are shown. " +
            "Channels' waiting side awaits (continuations run on the thread pool); ConcurrentQueue has no waiting primitive, so both sides spin.");
        section.Body.Add(LatencyTable(new[] { ringSpin, ringSleep, channelLatency, queueLatency }));
        section.Body.Add(
            "Notifications per message under sustained load (throughput runs, both directions counted): " +
            $"{ringBatched.Median.NotificationsPerMessage:F5} batched, {ringUnbatched.Median.NotificationsPerMessage:F5} unbatched. " +
            "Goal: below 0.1.");
        return section;
    }

    private static Throughput MeasureThroughput(string transport, string mode, Func<long, RunOutcome> run)
    {
        RunOutcome warmUp = run(200_000);
        long messages = Math.Max(200_000, (long)(warmUp.MessagesPerSecond * SecondsPerRun));
        var runs = new RunOutcome[Repetitions];
        for (int i = 0; i < runs.Length; i++)
        {
            runs[i] = run(messages);
        }

        var result = new Throughput(transport, mode, runs);
        Console.WriteLine($"  {transport}, {mode}: {result.Median.MessagesPerSecond:N0} msg/s ({messages:N0} messages per run)");
        return result;
    }

    private static Latency MeasureLatency(string transport, string waiting, Func<int, RunOutcome> run)
    {
        RunOutcome warmUp = run(2_000);
        int count = (int)Math.Clamp(warmUp.Messages / warmUp.Seconds * SecondsPerLatencyRun, 2_000, 500_000);
        var result = new Latency(transport, waiting, run(count));
        Console.WriteLine($"  {transport} round trip, {waiting}: p50 {result.Percentile(0.5):F0} ns ({count:N0} round trips)");
        return result;
    }

    private static string ThroughputTable(IEnumerable<Throughput> rows, double channelsBatched, double channelsUnbatched)
    {
        var md = new StringBuilder();
        md.AppendLine("| transport | mode | msg/s (median) | slowest..fastest run | vs Channels batched | vs Channels unbatched | notifications/msg |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (Throughput row in rows)
        {
            double median = row.Median.MessagesPerSecond;
            double min = row.Runs.Min(r => r.MessagesPerSecond);
            double max = row.Runs.Max(r => r.MessagesPerSecond);
            string notifications = row.Transport.StartsWith("ringlib", StringComparison.Ordinal) ? row.Median.NotificationsPerMessage.ToString("F5") : "n/a";
            md.AppendLine($"| {row.Transport} | {row.Mode} | {median:N0} | {min:N0}..{max:N0} | {median / channelsBatched:F2}x | {median / channelsUnbatched:F2}x | {notifications} |");
        }

        return md.ToString().TrimEnd();
    }

    private static string LatencyTable(IEnumerable<Latency> rows)
    {
        var md = new StringBuilder();
        md.AppendLine("| transport | waiting side | round trips | p50 ns | p99 ns | mean ns |");
        md.AppendLine("|---|---|---:|---:|---:|---:|");
        foreach (Latency row in rows)
        {
            md.AppendLine($"| {row.Transport} | {row.Waiting} | {row.Run.Messages:N0} | {row.Percentile(0.5):N0} | {row.Percentile(0.99):N0} | {row.Mean:N0} |");
        }

        return md.ToString().TrimEnd();
    }
}

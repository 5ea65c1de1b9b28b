using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace Keel.Bench.Rings;

/// <summary>The 64-byte request every transport carries: a sequence number and seven words of payload.</summary>
[StructLayout(LayoutKind.Sequential, Size = 64)]
public struct Message64
{
    public ulong Sequence;
    public ulong A;
    public ulong B;
    public ulong C;
    public ulong D;
    public ulong E;
    public ulong F;
    public ulong G;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Message64 For(ulong sequence) => new()
    {
        Sequence = sequence,
        A = sequence ^ 0x1111,
        B = sequence ^ 0x2222,
        C = sequence ^ 0x3333,
        D = sequence ^ 0x4444,
        E = sequence ^ 0x5555,
        F = sequence ^ 0x6666,
        G = sequence ^ 0x7777,
    };

    public readonly bool IsIntact => A == (Sequence ^ 0x1111) && G == (Sequence ^ 0x7777);
}

/// <summary>The response the ring carries back to free a slot: the sequence number it answers.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct Completion
{
    public ulong Sequence;
}

/// <summary>
/// An event channel between two threads: a notification sets a pending bit that stays set until the waiter
/// takes it, so a notification sent before the waiter blocks still wakes it.
/// </summary>
public sealed class LatchedEvent : IDisposable
{
    private readonly SemaphoreSlim _semaphore = new(0, 1);
    private int _pending;

    public void Notify()
    {
        if (Interlocked.Exchange(ref _pending, 1) == 0)
        {
            _semaphore.Release();
        }
    }

    public void Wait()
    {
        _semaphore.Wait();
        Interlocked.Exchange(ref _pending, 0);
    }

    public void Dispose() => _semaphore.Dispose();
}

/// <summary>What a transport run measured.</summary>
public sealed class RunOutcome
{
    public long Messages;
    public double Seconds;
    public long NotificationsToConsumer;
    public long NotificationsToProducer;
    public double[] RoundTripNanoseconds;
    public long SameThreadRoundTrips;

    public double MessagesPerSecond => Messages / Seconds;

    public double NotificationsPerMessage => (NotificationsToConsumer + NotificationsToProducer) / (double)Messages;
}

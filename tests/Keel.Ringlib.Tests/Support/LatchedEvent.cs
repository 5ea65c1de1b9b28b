using System;
using System.Threading;

namespace Keel.Ringlib.Tests.Support;

/// <summary>
/// A stand-in for an event channel between two threads: a notification sets a pending bit that stays set
/// until the waiter takes it, so a notification sent before the waiter blocks is not lost.
/// </summary>
public sealed class LatchedEvent : IDisposable
{
    private readonly SemaphoreSlim _semaphore = new(0, 1);
    private int _pending;
    private long _sent;

    /// <summary>Notifications sent so far.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    public void Notify()
    {
        Interlocked.Increment(ref _sent);
        if (Interlocked.Exchange(ref _pending, 1) == 0)
        {
            _semaphore.Release();
        }
    }

    /// <summary>Blocks until a notification is pending, then takes it. False on timeout.</summary>
    public bool Wait(TimeSpan timeout)
    {
        if (!_semaphore.Wait(timeout))
        {
            return false;
        }

        // Clearing is a full barrier, so whatever the waiter reads from the ring next is at least as new as
        // anything published before a notification this clear absorbed.
        Interlocked.Exchange(ref _pending, 0);
        return true;
    }

    public void Dispose() => _semaphore.Dispose();
}

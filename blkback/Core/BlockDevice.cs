using System;
using Keel.Drivers.Virtio;

namespace Keel.Blkback.Core;

/// <summary>
/// The physical disk under a virtual block device, with VirtioBlock's submission model: many requests in
/// flight, one kick per batch, completions reaped in whatever order the device finishes them. The domain
/// wraps a VirtioBlock in it; the host tests use an in-memory disk that completes out of order and can fail.
/// </summary>
public abstract class BlockDevice
{
    /// <summary>Size in 512-byte sectors.</summary>
    public abstract ulong Capacity { get; }

    /// <summary>The device refuses writes.</summary>
    public abstract bool IsReadOnly { get; }

    /// <summary>The most segments one submitted request may have (at least 1).</summary>
    public abstract int MaxSegments { get; }

    /// <summary>The most requests that can be in flight at once (at least 1).</summary>
    public abstract int QueueDepth { get; }

    /// <summary>Queues a request to be completed with <paramref name="token"/>; nothing reaches the device
    /// until <see cref="Kick"/>. False, with nothing queued, when the device has no room: retry after a reap.</summary>
    public abstract bool TrySubmit(BlockOperation operation, ulong sector, ReadOnlySpan<BlockSegment> segments, ulong token);

    /// <summary>Hands every request queued since the last kick to the device.</summary>
    public abstract void Kick();

    /// <summary>Fills <paramref name="completions"/> with finished requests and returns how many.</summary>
    public abstract int Reap(Span<BlockCompletion> completions);
}

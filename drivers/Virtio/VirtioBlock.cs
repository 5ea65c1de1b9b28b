using System;

namespace Keel.Drivers.Virtio;

/// <summary>
/// A virtio-blk driver (virtio 1.2 5.2) over the PCI transport, with one request queue.
///
/// Use: <see cref="TryStart"/> once; then <see cref="TrySubmit"/> requests (many may be in flight, up to
/// <see cref="QueueDepth"/>), <see cref="Kick"/> once per batch, and on each interrupt
/// <see cref="HandleInterrupt"/> then <see cref="Reap"/> until it returns fewer completions than asked
/// for. Completions come in the device's order, which need not be submission order (5.2: requests are
/// "serviced (probably out of order)"). Not thread-safe; nothing allocates after start.
///
/// Every accepted request completes exactly once. A request the driver can tell is malformed (segment
/// counts or sizes the device did not agree to, lengths that are not whole sectors, sectors past the
/// capacity) never reaches the device: it completes with <see cref="BlockStatus.IoError"/>, as a flush of
/// a device without a write cache completes with <see cref="BlockStatus.Ok"/>. Writes to a read-only
/// device are sent; the device fails them (5.2.5), so callers that care check <see cref="IsReadOnly"/>.
/// </summary>
public sealed partial class VirtioBlock
{
    private readonly VirtioPciTransport _transport;
    private readonly SplitVirtqueue _queue;
    private readonly VirtioQueueNotifier _notifier;
    private readonly BlockRequestSlots _slots;
    private readonly VirtqueueBuffer[] _chain;   // the chain being built, header + segments + status

    /// <summary>The features both sides agreed on.</summary>
    public ulong Features { get; }

    /// <summary>The capacity in 512-byte sectors; re-read when the device signals a configuration change.</summary>
    public ulong Capacity { get; private set; }

    /// <summary>Whether the device is read-only (VIRTIO_BLK_F_RO).</summary>
    public bool IsReadOnly => (Features & VirtioBlockConfiguration.FeatureReadOnly) != 0;

    /// <summary>Whether the device has a write cache that <see cref="BlockOperation.Flush"/> empties.</summary>
    public bool HasWriteCache => (Features & VirtioBlockConfiguration.FeatureFlush) != 0;

    /// <summary>The device's logical block size in bytes (512 unless VIRTIO_BLK_F_BLK_SIZE says otherwise).</summary>
    public uint BlockSize { get; }

    /// <summary>The most segments one request may have.</summary>
    public int MaxSegments { get; }

    /// <summary>The largest segment in bytes (VIRTIO_BLK_F_SIZE_MAX), or 0 for no limit.</summary>
    public uint MaxSegmentSize { get; }

    /// <summary>The most requests that can be in flight at once.</summary>
    public int QueueDepth => _slots.Count;

    /// <summary>Requests submitted and not yet reaped.</summary>
    public int InFlight => _slots.InUse;

    /// <summary>The queue's size.</summary>
    public ushort QueueSize => _queue.Size;

    /// <summary>Whether requests of several buffers travel as indirect tables.</summary>
    public bool UsesIndirectDescriptors => _queue.UsesIndirectDescriptors;

    /// <summary>Used ring entries the device produced for no request in flight, ignored.</summary>
    public int IgnoredCompletions => _queue.IgnoredUsedEntries;

    /// <summary>Submits a request of <paramref name="operation"/> at <paramref name="sector"/> over
    /// <paramref name="segments"/> (in order), to be completed with <paramref name="token"/>. Nothing reaches
    /// the device until <see cref="Kick"/>. False, with nothing submitted, only when the queue is full:
    /// try again after <see cref="Reap"/>.</summary>
    public bool TrySubmit(BlockOperation operation, ulong sector, ReadOnlySpan<BlockSegment> segments, ulong token)
    {
        BlockStatus answer = Check(operation, sector, segments);
        bool toDevice = answer == BlockStatus.Ok && (operation != BlockOperation.Flush || HasWriteCache);
        if (toDevice && !_queue.HasRoomFor(segments.Length + 2))
        {
            return false;
        }

        if (!_slots.TryTake(token, out int slot))
        {
            return false;
        }

        if (!toDevice)
        {
            _slots.CompleteLocally(slot, answer);
            return true;
        }

        // 5.2.6: the header (device-readable), the data (device-writable for reads and GET_ID), then the
        // status byte (device-writable), in that order as 2.7.4.2 requires. A flush carries sector 0.
        _slots.Prepare(slot, operation, operation == BlockOperation.Flush ? 0 : sector);
        bool deviceWrites = operation == BlockOperation.Read || operation == BlockOperation.GetId;
        int length = 0;
        _chain[length++] = new VirtqueueBuffer(_slots.HeaderAddress(slot), VirtioBlockConfiguration.HeaderSize, false);
        for (int i = 0; i < segments.Length; i++)
        {
            _chain[length++] = new VirtqueueBuffer(segments[i].BusAddress, segments[i].Length, deviceWrites);
        }

        _chain[length++] = new VirtqueueBuffer(_slots.StatusAddress(slot), 1, true);
        if (!_queue.TryAdd(new ReadOnlySpan<VirtqueueBuffer>(_chain, 0, length), (ulong)slot))
        {
            _slots.Release(slot);
            return false;
        }

        return true;
    }

    /// <summary>Hands every request submitted since the last kick to the device, with one notification if
    /// the device wants it (2.7.13).</summary>
    public void Kick()
    {
        if (_queue.Publish())
        {
            _notifier.Notify();
        }
    }

    /// <summary>Fills <paramref name="completions"/> with finished requests and returns how many; fewer than
    /// its length means none are left and the next completion will interrupt.</summary>
    public int Reap(Span<BlockCompletion> completions)
    {
        int count = 0;
        int rearms = 0;
        while (count < completions.Length)
        {
            if (!TryTakeFinished(out int slot, out BlockStatus status))
            {
                // Each round that finds more consumes at least one used entry; a device that keeps to the
                // specification can finish at most every request in flight, so QueueSize + 1 rounds only
                // cut off one that does not.
                if (rearms++ <= _queue.Size && _queue.ArmUsedNotification())
                {
                    continue;
                }

                break;
            }

            completions[count++] = new BlockCompletion(_slots.Token(slot), status);
            _slots.Release(slot);
        }

        return count;
    }

    /// <summary>Acknowledges an INTx# interrupt by reading the ISR (which deasserts the line, 4.1.4.5) and
    /// re-reads the capacity when the device signals a configuration change. False when the ISR was 0: the
    /// interrupt (on a shared line) was not this device's.</summary>
    public bool HandleInterrupt()
    {
        byte isr = _transport.ReadIsr();
        if ((isr & IsrConfigurationChange) != 0 && TryReadConfiguration(_transport, Features, out BlockGeometry geometry))
        {
            Capacity = geometry.Capacity;
        }

        return isr != 0;
    }

    private bool TryTakeFinished(out int slot, out BlockStatus status)
    {
        if (_slots.TryTakeLocal(out slot, out status))
        {
            return true;
        }

        if (!_queue.TryReap(out ulong slotToken, out _))
        {
            return false;
        }

        slot = (int)slotToken;
        status = _slots.ReadStatus(slot);
        return true;
    }

    private BlockStatus Check(BlockOperation operation, ulong sector, ReadOnlySpan<BlockSegment> segments)
    {
        switch (operation)
        {
            case BlockOperation.Flush:
                return segments.Length == 0 ? BlockStatus.Ok : BlockStatus.IoError;
            case BlockOperation.GetId:
                return CheckSegments(segments, out ulong idBytes) && idBytes == VirtioBlockConfiguration.IdBytes ? BlockStatus.Ok : BlockStatus.IoError;
            case BlockOperation.Read:
            case BlockOperation.Write:
                // 5.2.6.1: data lengths are whole sectors; requests stay within the capacity.
                if (!CheckSegments(segments, out ulong bytes) || bytes % VirtioBlockConfiguration.SectorSize != 0)
                {
                    return BlockStatus.IoError;
                }

                ulong sectors = bytes / VirtioBlockConfiguration.SectorSize;
                return sector <= Capacity && sectors <= Capacity - sector ? BlockStatus.Ok : BlockStatus.IoError;
            default:
                return BlockStatus.Unsupported;
        }
    }

    // 1 to MaxSegments segments, none empty, none above size_max.
    private bool CheckSegments(ReadOnlySpan<BlockSegment> segments, out ulong bytes)
    {
        bytes = 0;
        if (segments.Length == 0 || segments.Length > MaxSegments)
        {
            return false;
        }

        for (int i = 0; i < segments.Length; i++)
        {
            uint length = segments[i].Length;
            if (length == 0 || (MaxSegmentSize != 0 && length > MaxSegmentSize))
            {
                return false;
            }

            bytes += length;
        }

        return true;
    }
}

namespace Keel.Drivers.Virtio;

/// <summary>
/// Where and what to write to tell the device a queue has new buffers (virtio 1.2 4.1.4.4 and 4.1.5.2):
/// the 16-bit queue index, at cap.offset + queue_notify_off * notify_off_multiplier in the notification
/// structure. The offset was checked against the structure when the queue was enabled.
/// </summary>
public readonly struct VirtioQueueNotifier
{
    private readonly DeviceRegisters _notify;
    private readonly ulong _offset;
    private readonly ushort _queue;

    internal VirtioQueueNotifier(DeviceRegisters notify, ulong offset, ushort queue)
    {
        _notify = notify;
        _offset = offset;
        _queue = queue;
    }

    /// <summary>Sends the available buffer notification.</summary>
    public void Notify() => _notify.Write16(_offset, _queue);
}

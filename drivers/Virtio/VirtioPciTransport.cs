using Keel.Drivers.Pci;

namespace Keel.Drivers.Virtio;

/// <summary>
/// The virtio 1.x modern PCI transport (virtio 1.2 4.1) of one device: its four structures (common
/// configuration, notification, ISR, device configuration) found through the vendor capabilities and
/// mapped, and the register operations of device initialisation (3.1.1). The device interrupts through
/// INTx#: MSI-X is left disabled and both vector fields at NO_VECTOR, so every interrupt is announced in the
/// ISR (4.1.4.5). Device types build on it (<see cref="VirtioBlock"/>); it knows no device type itself.
/// </summary>
public sealed class VirtioPciTransport
{
    // 4.1.4.3.2 has the driver wait for the reset to finish, without a bound; the driver libraries have no
    // clock, so the wait is bounded by reads. QEMU finishes the reset within the write itself.
    private const int ResetPolls = 1_000_000;

    private readonly DeviceRegisters _common;
    private readonly DeviceRegisters _notify;
    private readonly DeviceRegisters _isr;
    private readonly DeviceRegisters _device;        // null when the device has no device configuration
    private readonly uint _notifyMultiplier;

    /// <summary>The PCI function.</summary>
    public PciFunction Function { get; }

    /// <summary>The virtio device type (5: 1 network, 2 block, ...).</summary>
    public ushort DeviceType { get; }

    private VirtioPciTransport(PciFunction function, ushort type, DeviceRegisters common, DeviceRegisters notify, uint multiplier, DeviceRegisters isr, DeviceRegisters device)
    {
        Function = function;
        DeviceType = type;
        _common = common;
        _notify = notify;
        _notifyMultiplier = multiplier;
        _isr = isr;
        _device = device;
    }

    /// <summary>Finds and maps the structures of the virtio device <paramref name="function"/>, and enables
    /// memory decoding, bus mastering and INTx#. Uses the first capability of each type it can use
    /// (4.1.4.1), skipping capabilities in I/O BARs. The device is left as firmware left it: the
    /// caller resets it (<see cref="TryReset"/>) before anything else.</summary>
    public static bool TryOpen(PciConfigSpace config, in PciFunction function, MmioMapper mapper, out VirtioPciTransport transport, out VirtioFailure failure)
    {
        transport = null;
        if (!VirtioPciIds.TryGetDeviceType(function, out ushort type))
        {
            failure = VirtioFailure.WrongDevice;
            return false;
        }

        VirtioStructureLocations found = VirtioStructureLocations.Find(config, function);
        if (!found.HasRequired)
        {
            failure = VirtioFailure.CapabilityMissing;
            return false;
        }

        if (!PciCommand.TryEnableMemoryAndBusMaster(config, function.Address) || !PciCommand.TrySetInterruptDisable(config, function.Address, false))
        {
            failure = VirtioFailure.PciAccessRefused;
            return false;
        }

        DeviceRegisters device = null;
        if (!mapper.TryMap(found.CommonAddress, found.CommonLength, out DeviceRegisters common)
            || !mapper.TryMap(found.NotifyAddress, found.NotifyLength, out DeviceRegisters notify)
            || !mapper.TryMap(found.IsrAddress, found.IsrLength, out DeviceRegisters isr)
            || (found.DeviceAddress != 0 && !mapper.TryMap(found.DeviceAddress, found.DeviceLength, out device)))
        {
            failure = VirtioFailure.MappingRefused;
            return false;
        }

        failure = VirtioFailure.None;
        transport = new VirtioPciTransport(function, type, common, notify, found.NotifyMultiplier, isr, device);
        return true;
    }

    /// <summary>Reads device_status.</summary>
    public byte ReadStatus() => _common.Read8(VirtioCommonConfiguration.DeviceStatus);

    /// <summary>Whether the device asks to be reset (2.1.1: DEVICE_NEEDS_RESET).</summary>
    public bool NeedsReset => (ReadStatus() & VirtioStatus.DeviceNeedsReset) != 0;

    /// <summary>Resets the device and waits for device_status to read 0 (4.1.4.3.2), then sets both MSI-X
    /// vector fields to NO_VECTOR; false when the reset never completes.</summary>
    public bool TryReset()
    {
        _common.Write8(VirtioCommonConfiguration.DeviceStatus, 0);
        for (int poll = 0; poll < ResetPolls; poll++)
        {
            if (ReadStatus() == 0)
            {
                _common.Write16(VirtioCommonConfiguration.ConfigMsixVector, VirtioCommonConfiguration.NoVector);
                return true;
            }
        }

        return false;
    }

    /// <summary>Sets <paramref name="bits"/> in device_status, keeping those already set (3.1.1: each step
    /// adds a bit).</summary>
    public void AddStatus(byte bits) => _common.Write8(VirtioCommonConfiguration.DeviceStatus, (byte)(ReadStatus() | bits));

    /// <summary>Reads the 64 feature bits the device offers, 32 at a time through device_feature_select.</summary>
    public ulong ReadDeviceFeatures()
    {
        _common.Write32(VirtioCommonConfiguration.DeviceFeatureSelect, 0);
        ulong low = _common.Read32(VirtioCommonConfiguration.DeviceFeature);
        _common.Write32(VirtioCommonConfiguration.DeviceFeatureSelect, 1);
        ulong high = _common.Read32(VirtioCommonConfiguration.DeviceFeature);
        return high << 32 | low;
    }

    /// <summary>Writes the 64 feature bits the driver accepts, 32 at a time through driver_feature_select.</summary>
    public void WriteDriverFeatures(ulong features)
    {
        _common.Write32(VirtioCommonConfiguration.DriverFeatureSelect, 0);
        _common.Write32(VirtioCommonConfiguration.DriverFeature, (uint)features);
        _common.Write32(VirtioCommonConfiguration.DriverFeatureSelect, 1);
        _common.Write32(VirtioCommonConfiguration.DriverFeature, (uint)(features >> 32));
    }

    /// <summary>Negotiates features (3.1.1 steps 4-6): accepts what the device offers of
    /// <paramref name="wanted"/>, requires VIRTIO_F_VERSION_1, sets FEATURES_OK and reads it back to learn
    /// whether the device agrees.</summary>
    public VirtioFailure Negotiate(ulong wanted, out ulong accepted)
    {
        ulong offered = ReadDeviceFeatures();
        accepted = offered & (wanted | VirtioFeatures.Version1);
        if ((accepted & VirtioFeatures.Version1) == 0)
        {
            return VirtioFailure.Version1NotOffered;
        }

        WriteDriverFeatures(accepted);
        AddStatus(VirtioStatus.FeaturesOk);
        return (ReadStatus() & VirtioStatus.FeaturesOk) != 0 ? VirtioFailure.None : VirtioFailure.FeaturesRefused;
    }

    /// <summary>Reads how many queues the device has (num_queues).</summary>
    public ushort ReadQueueCount() => _common.Read16(VirtioCommonConfiguration.NumQueues);

    /// <summary>Reads the largest size queue <paramref name="queue"/> may have; 0 when it does not exist.</summary>
    public ushort ReadQueueMaximum(ushort queue)
    {
        _common.Write16(VirtioCommonConfiguration.QueueSelect, queue);
        return _common.Read16(VirtioCommonConfiguration.QueueSize);
    }

    /// <summary>Tells the device where <paramref name="virtqueue"/> lives and enables it as queue
    /// <paramref name="queue"/> (4.1.5.1.3: size and addresses first, queue_enable last), without an MSI-X
    /// vector. False when the queue's notification address falls outside the notification structure.</summary>
    public bool TryEnableQueue(ushort queue, SplitVirtqueue virtqueue, out VirtioQueueNotifier notifier)
    {
        notifier = default;
        _common.Write16(VirtioCommonConfiguration.QueueSelect, queue);
        ulong offset = (ulong)_common.Read16(VirtioCommonConfiguration.QueueNotifyOff) * _notifyMultiplier;
        if (!_notify.Contains(offset, 2))
        {
            return false;
        }

        _common.Write16(VirtioCommonConfiguration.QueueSize, virtqueue.Size);
        _common.Write16(VirtioCommonConfiguration.QueueMsixVector, VirtioCommonConfiguration.NoVector);
        _common.Write64(VirtioCommonConfiguration.QueueDesc, virtqueue.DescriptorTableAddress);
        _common.Write64(VirtioCommonConfiguration.QueueDriver, virtqueue.AvailableRingAddress);
        _common.Write64(VirtioCommonConfiguration.QueueDevice, virtqueue.UsedRingAddress);
        _common.Write16(VirtioCommonConfiguration.QueueEnable, 1);
        notifier = new VirtioQueueNotifier(_notify, offset, queue);
        return true;
    }

    /// <summary>Reads config_generation (2.5.1).</summary>
    public byte ReadConfigGeneration() => _common.Read8(VirtioCommonConfiguration.ConfigGeneration);

    /// <summary>Reads the 32-bit field at <paramref name="offset"/> of the device configuration; false when
    /// the device has none or it is too short. Callers read several fields between two equal
    /// <see cref="ReadConfigGeneration"/> values to see them consistent.</summary>
    public bool TryReadDeviceConfig32(ulong offset, out uint value)
    {
        value = 0;
        if (_device == null || !_device.Contains(offset, 4))
        {
            return false;
        }

        value = _device.Read32(offset);
        return true;
    }

    /// <summary>Reads the 64-bit field at <paramref name="offset"/> of the device configuration, like
    /// <see cref="TryReadDeviceConfig32"/>.</summary>
    public bool TryReadDeviceConfig64(ulong offset, out ulong value)
    {
        value = 0;
        if (_device == null || !_device.Contains(offset, 8))
        {
            return false;
        }

        value = _device.Read64(offset);
        return true;
    }

    /// <summary>Reads the ISR status (4.1.4.5): bit 0 a queue interrupt, bit 1 a configuration change. The
    /// read clears it and deasserts INTx#.</summary>
    public byte ReadIsr() => _isr.Read8(0);
}

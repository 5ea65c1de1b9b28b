using System;

namespace Keel.Drivers.Virtio;

/// <summary>Bringing a virtio-blk device up: the initialisation sequence of virtio 1.2 3.1.1 with the
/// block device's features (5.2.3), configuration (5.2.4) and single request queue (5.2.2).</summary>
public sealed partial class VirtioBlock
{
    // ISR bit 1: the device configuration changed (4.1.4.5).
    private const byte IsrConfigurationChange = 2;

    // What this driver understands. VIRTIO_F_VERSION_1 is required on top (Negotiate); the others are
    // taken when offered. VIRTIO_BLK_F_RO is informational and accepted whenever offered (5.2.3.1: the
    // driver SHOULD accept it).
    private const ulong WantedFeatures =
        VirtioBlockConfiguration.FeatureSizeMax | VirtioBlockConfiguration.FeatureSegMax
        | VirtioBlockConfiguration.FeatureReadOnly | VirtioBlockConfiguration.FeatureBlockSize
        | VirtioBlockConfiguration.FeatureFlush | VirtioFeatures.IndirectDescriptors | VirtioFeatures.EventIndex;

    // 2.5.1 has the driver retry until config_generation reads the same before and after; a device whose
    // configuration never holds still for this long is treated as broken.
    private const int ConfigurationAttempts = 8;

    private const ushort RequestQueue = 0;
    private const int FramingDescriptors = 2;   // header and status around the data

    private VirtioBlock(VirtioPciTransport transport, SplitVirtqueue queue, VirtioQueueNotifier notifier, BlockRequestSlots slots, ulong features, in BlockGeometry geometry, int maxSegments)
    {
        _transport = transport;
        _queue = queue;
        _notifier = notifier;
        _slots = slots;
        _chain = new VirtqueueBuffer[maxSegments + FramingDescriptors];
        Features = features;
        Capacity = geometry.Capacity;
        BlockSize = geometry.BlockSize != 0 ? geometry.BlockSize : VirtioBlockConfiguration.SectorSize;
        MaxSegmentSize = geometry.SizeMax;
        MaxSegments = maxSegments;
    }

    /// <summary>Resets and initialises the block device behind <paramref name="transport"/> (3.1.1): reset,
    /// ACKNOWLEDGE, DRIVER, features, FEATURES_OK, configuration, the request queue, DRIVER_OK. The queue
    /// gets the largest power of two no larger than the device's maximum, <paramref name="queueSize"/> and
    /// 256; requests get up to <paramref name="maxSegments"/> segments, fewer if seg_max or the queue size
    /// say so. On any failure the device is left with FAILED set and <paramref name="failure"/> says why.</summary>
    public static bool TryStart(VirtioPciTransport transport, DmaMemory memory, ushort queueSize, int maxSegments, out VirtioBlock block, out VirtioFailure failure)
    {
        block = null;
        if (transport.DeviceType != VirtioPciIds.TypeBlock)
        {
            failure = VirtioFailure.WrongDevice;
            return false;
        }

        failure = Start(transport, memory, queueSize, maxSegments, out block);
        if (failure != VirtioFailure.None)
        {
            transport.AddStatus(VirtioStatus.Failed);
            return false;
        }

        return true;
    }

    private static VirtioFailure Start(VirtioPciTransport transport, DmaMemory memory, ushort queueSize, int maxSegments, out VirtioBlock block)
    {
        block = null;
        if (!transport.TryReset())
        {
            return VirtioFailure.ResetTimedOut;
        }

        transport.AddStatus(VirtioStatus.Acknowledge);
        transport.AddStatus(VirtioStatus.Driver);
        VirtioFailure negotiated = transport.Negotiate(WantedFeatures, out ulong features);
        if (negotiated != VirtioFailure.None)
        {
            return negotiated;
        }

        if (!TryReadConfiguration(transport, features, out BlockGeometry geometry))
        {
            return VirtioFailure.DeviceConfigurationUnreadable;
        }

        ushort size = PowerOfTwoAtMost(Math.Min(Math.Min((int)transport.ReadQueueMaximum(RequestQueue), queueSize), VirtqueueLayout.MaxSize));
        int segments = Math.Min(maxSegments, size - FramingDescriptors);
        if (geometry.SegMax != 0)
        {
            segments = (int)Math.Min((uint)segments, geometry.SegMax);
        }

        if (segments < 1)
        {
            return VirtioFailure.QueueUnavailable;
        }

        // With indirect tables every request takes one descriptor; without, at least two (a flush).
        bool indirect = (features & VirtioFeatures.IndirectDescriptors) != 0;
        int depth = indirect ? size : size / FramingDescriptors;
        if (!SplitVirtqueue.TryCreate(memory, size, segments + FramingDescriptors, indirect, (features & VirtioFeatures.EventIndex) != 0, out SplitVirtqueue queue)
            || !BlockRequestSlots.TryCreate(memory, depth, out BlockRequestSlots slots))
        {
            return VirtioFailure.OutOfDmaMemory;
        }

        if (!transport.TryEnableQueue(RequestQueue, queue, out VirtioQueueNotifier notifier))
        {
            return VirtioFailure.QueueUnavailable;
        }

        transport.AddStatus(VirtioStatus.DriverOk);
        block = new VirtioBlock(transport, queue, notifier, slots, features, geometry, segments);
        return VirtioFailure.None;
    }

    // Reads the fields this driver uses between two equal config_generation values (2.5.1), each only when
    // its feature was negotiated (5.2.4: the others are not valid).
    private static bool TryReadConfiguration(VirtioPciTransport transport, ulong features, out BlockGeometry geometry)
    {
        geometry = default;
        for (int attempt = 0; attempt < ConfigurationAttempts; attempt++)
        {
            byte before = transport.ReadConfigGeneration();
            uint sizeMax = 0, segMax = 0, blockSize = 0;
            if (!transport.TryReadDeviceConfig64(VirtioBlockConfiguration.Capacity, out ulong capacity)
                || ((features & VirtioBlockConfiguration.FeatureSizeMax) != 0 && !transport.TryReadDeviceConfig32(VirtioBlockConfiguration.SizeMax, out sizeMax))
                || ((features & VirtioBlockConfiguration.FeatureSegMax) != 0 && !transport.TryReadDeviceConfig32(VirtioBlockConfiguration.SegMax, out segMax))
                || ((features & VirtioBlockConfiguration.FeatureBlockSize) != 0 && !transport.TryReadDeviceConfig32(VirtioBlockConfiguration.BlkSize, out blockSize)))
            {
                return false;
            }

            if (transport.ReadConfigGeneration() == before)
            {
                geometry = new BlockGeometry(capacity, sizeMax, segMax, blockSize);
                return true;
            }
        }

        return false;
    }

    private static ushort PowerOfTwoAtMost(int value)
    {
        int power = 1;
        while (power <= value / 2)
        {
            power *= 2;
        }

        return value <= 0 ? (ushort)0 : (ushort)power;
    }

    // The configuration fields read at start (0: not offered).
    private readonly struct BlockGeometry
    {
        public readonly ulong Capacity;
        public readonly uint SizeMax;
        public readonly uint SegMax;
        public readonly uint BlockSize;

        public BlockGeometry(ulong capacity, uint sizeMax, uint segMax, uint blockSize)
        {
            Capacity = capacity;
            SizeMax = sizeMax;
            SegMax = segMax;
            BlockSize = blockSize;
        }
    }
}

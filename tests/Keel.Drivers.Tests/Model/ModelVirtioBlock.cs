using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Text;
using Keel.Drivers.Pci;
using Keel.Drivers.Virtio;

namespace Keel.Drivers.Tests.Model;

/// <summary>A request as the model device executed it.</summary>
public readonly record struct ModelRequest(uint Type, ulong Sector, int Segments, byte Status);

/// <summary>
/// A virtio-blk PCI device (virtio 1.2 4.1 and 5.2) with a RAM disk: a modern function (1AF4:1042) whose
/// capabilities place the common configuration, ISR, device configuration and notification structures in
/// a 64-bit memory BAR; a common configuration that reacts to the driver as 3.1.1 and 4.1.4.3 describe;
/// a request queue served through <see cref="ModelVirtqueue"/>. By default every notification is served at
/// once, in order; with <see cref="ServeOnNotify"/> off the test takes and completes chains itself, in any
/// order. The knobs below let tests make the device refuse, stall or lie.
/// </summary>
public sealed class ModelVirtioBlock
{
    public const ulong BarAddress = 0x0000_0080_0000_0000;
    public const ulong BarSize = 0x4000;
    public const int Bar = 4;
    private const ulong CommonOffset = 0x0000, IsrOffset = 0x1000, DeviceOffset = 0x2000, NotifyOffset = 0x3000;
    private const uint NotifyMultiplier = 4;
    private const int ConfigLength = 0x3C;
    public const string Serial = "keel-model-disk";

    private readonly ModelDma _dma;
    private readonly byte[] _disk;
    private ulong _driverFeatures;
    private uint _deviceFeatureSelect, _driverFeatureSelect;
    private ushort _queueSelect, _queueSize, _queueMsix, _configMsix;
    private ushort _queueEnable;
    private ulong _queueDesc, _queueDriver, _queueDevice;
    private byte _generation;
    private int _resetReadsLeft;

    public ModelVirtioBlock(ModelDma dma, ulong sectors, ulong features)
    {
        _dma = dma;
        _disk = new byte[sectors * VirtioBlockConfiguration.SectorSize];
        Capacity = sectors;
        OfferedFeatures = features;
        Function = new ModelPciFunction(VirtioPciIds.Vendor, 0x1042, 0x01, 0x00);
        Function.Set16(PciHeader.SubsystemVendorId, VirtioPciIds.Vendor);
        Function.Set16(PciHeader.SubsystemId, 0x0002);
        Function.SetBar(0, 0xC000, 0x40, io: true);
        Function.SetBar(Bar, BarAddress, BarSize, wide: true, prefetchable: true);

        // A common configuration in the I/O BAR first, which a memory-only driver must pass over (4.1.4.1).
        AddVirtioCapability(VirtioPciCapability.CommonConfiguration, 0, 0, 0x38);
        AddVirtioCapability(VirtioPciCapability.CommonConfiguration, Bar, CommonOffset, 0x1000);
        AddVirtioCapability(VirtioPciCapability.Notification, Bar, NotifyOffset, 0x1000, NotifyMultiplier);
        AddVirtioCapability(VirtioPciCapability.Isr, Bar, IsrOffset, 0x1000);
        AddVirtioCapability(VirtioPciCapability.DeviceConfiguration, Bar, DeviceOffset, ConfigLength);
        AddVirtioCapability(VirtioPciCapability.PciConfigurationAccess, 0, 0, 0, 0, 4);
    }

    public ModelPciFunction Function { get; }
    public ulong OfferedFeatures { get; set; }
    public ulong Capacity { get; private set; }
    public ushort QueueMaximum { get; set; } = 256;
    public uint SegMax { get; set; } = 64;
    public uint SizeMax { get; set; } = 1 << 16;
    public uint BlkSize { get; set; } = 4096;

    /// <summary>Clears FEATURES_OK whatever the driver chose.</summary>
    public bool RefuseFeatures { get; set; }

    /// <summary>Fails writes with IOERR, as a medium that turned read-only behind the driver's back.</summary>
    public bool WriteProtected { get; set; }

    /// <summary>Device status reads after a reset that still show the old status.</summary>
    public int ResetLatency { get; set; }

    /// <summary>Device configuration reads that see config_generation change under them.</summary>
    public int GenerationChurn { get; set; }

    /// <summary>Serve the queue as soon as it is notified.</summary>
    public bool ServeOnNotify { get; set; } = true;

    /// <summary>Complete requests without writing their status byte.</summary>
    public bool ForgetStatus { get; set; }

    public byte Status { get; private set; }
    public List<byte> StatusWrites { get; } = new();
    public ModelVirtqueue Queue { get; private set; }
    public List<ModelRequest> Requests { get; } = new();
    public int Notifications { get; private set; }
    public int Interrupts { get; private set; }
    public byte Isr { get; private set; }
    public ulong AcceptedFeatures => _driverFeatures;
    public ushort ConfigMsixVector => _configMsix;
    public ushort QueueMsixVector => _queueMsix;

    public Span<byte> Disk => _disk;

    public void Attach(ModelPciBus bus, PciAddress address, ModelMmio mmio)
    {
        bus.Add(address, Function);
        mmio.Add(this);
    }

    /// <summary>Changes the capacity as a resize would: new generation, configuration interrupt.</summary>
    public void Resize(ulong sectors)
    {
        Capacity = sectors;
        _generation++;
        Isr |= 2;
    }

    /// <summary>Serves every available request in order.</summary>
    public void Serve()
    {
        foreach (ModelChain chain in Queue.TakeAvailable())
        {
            Finish(chain);
        }
    }

    /// <summary>Executes one request and returns it on the used ring.</summary>
    public void Finish(ModelChain chain)
    {
        uint written = Execute(chain);
        if (Queue.Complete(chain, written))
        {
            Interrupt();
        }
    }

    public void Interrupt()
    {
        Isr |= 1;
        Interrupts++;
    }

    public ulong Read(ulong offset, int width)
    {
        if (offset >= CommonOffset && offset < CommonOffset + 0x1000)
        {
            return ReadCommon(offset - CommonOffset, width);
        }

        if (offset == IsrOffset && width == 1)
        {
            byte isr = Isr;
            Isr = 0;
            return isr;
        }

        if (offset >= DeviceOffset && offset < DeviceOffset + ConfigLength)
        {
            return ReadDeviceConfig(offset - DeviceOffset, width);
        }

        return ulong.MaxValue;
    }

    public void Write(ulong offset, int width, ulong value)
    {
        if (offset >= CommonOffset && offset < CommonOffset + 0x1000)
        {
            WriteCommon(offset - CommonOffset, width, value);
        }
        else if (offset >= NotifyOffset && offset < NotifyOffset + 0x1000 && width == 2)
        {
            Notifications++;
            if (value == 0 && ServeOnNotify && Queue != null)
            {
                Serve();
            }
        }
    }

    private ulong ReadCommon(ulong offset, int width)
    {
        switch (offset)
        {
            case VirtioCommonConfiguration.DeviceFeatureSelect: return _deviceFeatureSelect;
            case VirtioCommonConfiguration.DeviceFeature: return _deviceFeatureSelect switch { 0 => (uint)OfferedFeatures, 1 => (uint)(OfferedFeatures >> 32), _ => 0 };
            case VirtioCommonConfiguration.DriverFeatureSelect: return _driverFeatureSelect;
            case VirtioCommonConfiguration.DriverFeature: return _driverFeatureSelect == 0 ? (uint)_driverFeatures : (uint)(_driverFeatures >> 32);
            case VirtioCommonConfiguration.ConfigMsixVector: return _configMsix;
            case VirtioCommonConfiguration.NumQueues: return 1;
            case VirtioCommonConfiguration.DeviceStatus:
                if (_resetReadsLeft > 0)
                {
                    _resetReadsLeft--;
                    return 0x0F;
                }

                return Status;
            case VirtioCommonConfiguration.ConfigGeneration: return _generation;
            case VirtioCommonConfiguration.QueueSelect: return _queueSelect;
            case VirtioCommonConfiguration.QueueSize: return _queueSelect == 0 ? _queueSize : 0u;
            case VirtioCommonConfiguration.QueueMsixVector: return _queueMsix;
            case VirtioCommonConfiguration.QueueEnable: return _queueEnable;
            case VirtioCommonConfiguration.QueueNotifyOff: return 0;
            case VirtioCommonConfiguration.QueueDesc: return width == 8 ? _queueDesc : (uint)_queueDesc;
            case VirtioCommonConfiguration.QueueDriver: return width == 8 ? _queueDriver : (uint)_queueDriver;
            case VirtioCommonConfiguration.QueueDevice: return width == 8 ? _queueDevice : (uint)_queueDevice;
            default: return 0;
        }
    }

    private void WriteCommon(ulong offset, int width, ulong value)
    {
        switch (offset)
        {
            case VirtioCommonConfiguration.DeviceFeatureSelect: _deviceFeatureSelect = (uint)value; break;
            case VirtioCommonConfiguration.DriverFeatureSelect: _driverFeatureSelect = (uint)value; break;
            case VirtioCommonConfiguration.DriverFeature:
                _driverFeatures = _driverFeatureSelect == 0
                    ? (_driverFeatures & 0xFFFFFFFF00000000) | (uint)value
                    : (_driverFeatures & 0xFFFFFFFF) | (value << 32);
                break;
            case VirtioCommonConfiguration.ConfigMsixVector: _configMsix = (ushort)value; break;
            case VirtioCommonConfiguration.DeviceStatus: WriteStatus((byte)value); break;
            case VirtioCommonConfiguration.QueueSelect: _queueSelect = (ushort)value; break;
            case VirtioCommonConfiguration.QueueSize: _queueSize = (ushort)value; break;
            case VirtioCommonConfiguration.QueueMsixVector: _queueMsix = (ushort)value; break;
            case VirtioCommonConfiguration.QueueEnable:
                _queueEnable = (ushort)value;
                if (_queueEnable == 1)
                {
                    bool eventIndex = (_driverFeatures & VirtioFeatures.EventIndex) != 0;
                    Queue = new ModelVirtqueue(_dma, _queueSize, _queueDesc, _queueDriver, _queueDevice, eventIndex);
                }

                break;
            case VirtioCommonConfiguration.QueueDesc: _queueDesc = width == 8 ? value : (uint)value; break;
            case VirtioCommonConfiguration.QueueDriver: _queueDriver = width == 8 ? value : (uint)value; break;
            case VirtioCommonConfiguration.QueueDevice: _queueDevice = width == 8 ? value : (uint)value; break;
        }
    }

    private void WriteStatus(byte value)
    {
        StatusWrites.Add(value);
        if (value == 0)
        {
            Status = 0;
            _driverFeatures = 0;
            _queueSize = QueueMaximum;
            _queueEnable = 0;
            _queueMsix = 0;
            _configMsix = 0;
            Queue = null;
            _resetReadsLeft = ResetLatency;
            return;
        }

        // 3.1.1 step 5-6: the device keeps FEATURES_OK only for a subset of its offer with VERSION_1.
        bool newlyFeaturesOk = (value & VirtioStatus.FeaturesOk) != 0 && (Status & VirtioStatus.FeaturesOk) == 0;
        if (newlyFeaturesOk && (RefuseFeatures || (_driverFeatures & ~OfferedFeatures) != 0 || (_driverFeatures & VirtioFeatures.Version1) == 0))
        {
            value &= unchecked((byte)~VirtioStatus.FeaturesOk);
        }

        Status = value;
    }

    private ulong ReadDeviceConfig(ulong offset, int width)
    {
        if (GenerationChurn > 0)
        {
            GenerationChurn--;
            _generation++;
        }

        Span<byte> config = stackalloc byte[ConfigLength + 8];
        BinaryPrimitives.WriteUInt64LittleEndian(config, Capacity);
        BinaryPrimitives.WriteUInt32LittleEndian(config.Slice((int)VirtioBlockConfiguration.SizeMax), SizeMax);
        BinaryPrimitives.WriteUInt32LittleEndian(config.Slice((int)VirtioBlockConfiguration.SegMax), SegMax);
        BinaryPrimitives.WriteUInt32LittleEndian(config.Slice((int)VirtioBlockConfiguration.BlkSize), BlkSize);
        ulong raw = BinaryPrimitives.ReadUInt64LittleEndian(config.Slice((int)offset));
        return width == 8 ? raw : raw & ((1UL << (8 * width)) - 1);
    }

    // 5.2.6: header (16 device-readable bytes), data, status (the last, device-writable byte).
    private uint Execute(ModelChain chain)
    {
        List<ModelBuffer> buffers = chain.Buffers;
        ModelBuffer last = buffers[^1];
        if (buffers.Count < 2 || buffers[0].Writable || buffers[0].Length < VirtioBlockConfiguration.HeaderSize || !last.Writable)
        {
            Queue.Violations.Add($"request at {chain.Head} is not header, data, status");
            return 0;
        }

        byte[] header = _dma.ReadBytes(buffers[0].Bus, 16);
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(header);
        ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(8));
        List<ModelBuffer> data = buffers.GetRange(1, buffers.Count - 2);
        uint written = 0;
        byte status = type switch
        {
            0 => Transfer(data, sector, toDisk: false, ref written),
            1 => WriteProtected || (OfferedFeatures & VirtioBlockConfiguration.FeatureReadOnly) != 0
                ? (byte)1
                : Transfer(data, sector, toDisk: true, ref written),
            4 => (OfferedFeatures & VirtioBlockConfiguration.FeatureFlush) != 0 ? (byte)0 : (byte)2,
            8 => WriteId(data, ref written),
            _ => 2,
        };
        Requests.Add(new ModelRequest(type, sector, data.Count, status));
        if (!ForgetStatus)
        {
            _dma.WriteBytes(last.Bus + last.Length - 1, new[] { status });
        }

        return written + 1;
    }

    private byte Transfer(List<ModelBuffer> data, ulong sector, bool toDisk, ref uint written)
    {
        ulong position = sector * VirtioBlockConfiguration.SectorSize;
        foreach (ModelBuffer buffer in data)
        {
            if (buffer.Writable == toDisk || position + buffer.Length > (ulong)_disk.Length)
            {
                return 1;
            }

            Span<byte> disk = _disk.AsSpan((int)position, (int)buffer.Length);
            if (toDisk)
            {
                _dma.TryRead(buffer.Bus, disk);
            }
            else
            {
                _dma.WriteBytes(buffer.Bus, disk);
                written += buffer.Length;
            }

            position += buffer.Length;
        }

        return 0;
    }

    private byte WriteId(List<ModelBuffer> data, ref uint written)
    {
        byte[] id = new byte[VirtioBlockConfiguration.IdBytes];
        Encoding.ASCII.GetBytes(Serial).CopyTo(id, 0);
        if (data.Count != 1 || data[0].Length < id.Length || !data[0].Writable)
        {
            return 1;
        }

        _dma.WriteBytes(data[0].Bus, id);
        written = (uint)id.Length;
        return 0;
    }

    private void AddVirtioCapability(byte type, int bar, ulong offset, uint length, uint multiplier = 0, int extra = 0)
    {
        bool notify = type == VirtioPciCapability.Notification;
        byte[] body = new byte[(notify ? 18 : 14) + extra];
        body[0] = (byte)(body.Length + 2);
        body[1] = type;
        body[2] = (byte)bar;
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(6), (uint)offset);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(10), length);
        if (notify)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(14), multiplier);
        }

        Function.AddCapability(PciCapability.VendorSpecific, body);
    }
}

using System;
using System.Buffers.Binary;
using Keel.Drivers.Pci;

namespace Keel.Drivers.Tests.Model;

/// <summary>
/// The configuration space of one model PCI function: 256 bytes, of which the command register, the
/// interrupt line and the implemented BAR address bits are writable (BARs as PCI Local Bus 3.0 6.2.5.1
/// describes them: writes keep only the bits above the size, so writing all ones reads back the size).
/// </summary>
public sealed class ModelPciFunction
{
    private readonly byte[] _config = new byte[PciHeader.Size];
    private readonly uint[] _barWritable = new uint[PciBar.GeneralCount];
    private int _lastCapability;
    private int _nextCapability = 0x40;

    public ModelPciFunction(ushort vendor, ushort device, byte classCode, byte subclass, byte headerType = 0)
    {
        Set16(PciHeader.VendorId, vendor);
        Set16(PciHeader.DeviceId, device);
        _config[PciHeader.RevisionId + 3] = classCode;
        _config[PciHeader.RevisionId + 2] = subclass;
        _config[PciHeader.HeaderType] = headerType;
        _config[PciHeader.InterruptLine] = 11;
        _config[PciHeader.InterruptLine + 1] = 1;
    }

    /// <summary>Configuration writes to the BARs fail, as a domain may be refused them.</summary>
    public bool RefuseBarWrites { get; set; }

    public ushort Command => Get16(PciHeader.Command);

    public void Set8(int offset, byte value) => _config[offset] = value;

    public void Set16(int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(offset), value);

    public void Set32(int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(offset), value);

    public ushort Get16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(_config.AsSpan(offset));

    /// <summary>A 32-bit memory BAR, an I/O BAR (<paramref name="io"/>) or, with <paramref name="wide"/>, a
    /// 64-bit memory BAR over this index and the next.</summary>
    public void SetBar(int index, ulong address, ulong size, bool wide = false, bool io = false, bool prefetchable = false)
    {
        uint flags = io ? 1u : (wide ? 0x4u : 0) | (prefetchable ? 0x8u : 0);
        uint lowMask = io ? 0xFFFFFFFC : 0xFFFFFFF0;
        Set32(PciHeader.Bar0 + 4 * index, ((uint)address & lowMask) | flags);
        _barWritable[index] = (uint)~(size - 1) & lowMask;
        if (wide)
        {
            Set32(PciHeader.Bar0 + 4 * (index + 1), (uint)(address >> 32));
            _barWritable[index + 1] = (uint)(~(size - 1) >> 32);
        }
    }

    public ulong BarAddress(int index, bool wide) =>
        (BinaryPrimitives.ReadUInt32LittleEndian(_config.AsSpan(PciHeader.Bar0 + 4 * index)) & 0xFFFFFFF0)
        | (wide ? (ulong)BinaryPrimitives.ReadUInt32LittleEndian(_config.AsSpan(PciHeader.Bar0 + 4 * (index + 1))) << 32 : 0);

    /// <summary>Appends a capability with <paramref name="body"/> after its ID and next bytes, and returns its
    /// offset; the first one sets the Capabilities List status bit.</summary>
    public int AddCapability(byte id, ReadOnlySpan<byte> body)
    {
        int offset = _nextCapability;
        _nextCapability = (offset + 2 + body.Length + 3) & ~3;
        _config[offset] = id;
        _config[offset + 1] = 0;
        body.CopyTo(_config.AsSpan(offset + 2));
        if (_lastCapability == 0)
        {
            _config[PciHeader.CapabilitiesPointer] = (byte)offset;
            Set16(PciHeader.Status, (ushort)(Get16(PciHeader.Status) | PciHeader.StatusCapabilitiesList));
        }
        else
        {
            _config[_lastCapability + 1] = (byte)offset;
        }

        _lastCapability = offset;
        return offset;
    }

    public uint Read(int offset, int width) => width switch
    {
        1 => _config[offset],
        2 => Get16(offset),
        _ => BinaryPrimitives.ReadUInt32LittleEndian(_config.AsSpan(offset)),
    };

    public bool Write(int offset, int width, uint value)
    {
        if (offset >= PciHeader.Bar0 && offset < PciHeader.Bar0 + 4 * PciBar.GeneralCount)
        {
            if (RefuseBarWrites || width != 4)
            {
                return false;
            }

            int index = (offset - PciHeader.Bar0) / 4;
            uint current = BinaryPrimitives.ReadUInt32LittleEndian(_config.AsSpan(offset));
            uint writable = _barWritable[index];
            Set32(offset, (current & ~writable) | (value & writable));
            return true;
        }

        if (offset == PciHeader.Command && width == 2)
        {
            Set16(offset, (ushort)value);
        }
        else if (offset == PciHeader.InterruptLine && width == 1)
        {
            _config[offset] = (byte)value;
        }

        return true;
    }
}

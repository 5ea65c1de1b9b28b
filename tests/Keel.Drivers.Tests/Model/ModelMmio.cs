using System.Collections.Generic;
using Keel.Drivers;

namespace Keel.Drivers.Tests.Model;

/// <summary>
/// The model machine's MMIO: maps ranges that lie inside a model device's memory BAR (at the address the
/// BAR holds now) and refuses everything else, as the kernel refuses ranges of devices a domain was not
/// given.
/// </summary>
public sealed class ModelMmio : MmioMapper
{
    private readonly List<ModelVirtioBlock> _devices = new();

    public bool RefuseAll { get; set; }

    public List<(ulong Address, ulong Length)> Mapped { get; } = new();

    public void Add(ModelVirtioBlock device) => _devices.Add(device);

    public override bool TryMap(ulong physicalAddress, ulong length, out DeviceRegisters registers)
    {
        registers = null;
        foreach (ModelVirtioBlock device in _devices)
        {
            ulong bar = device.Function.BarAddress(ModelVirtioBlock.Bar, wide: true);
            if (!RefuseAll && physicalAddress >= bar && length <= ModelVirtioBlock.BarSize && physicalAddress - bar <= ModelVirtioBlock.BarSize - length)
            {
                Mapped.Add((physicalAddress, length));
                registers = new ModelRegisters(device, physicalAddress - bar, length);
                return true;
            }
        }

        return false;
    }

    /// <summary>A window of a model device's BAR; accesses outside it are counted and read all ones.</summary>
    private sealed class ModelRegisters : DeviceRegisters
    {
        private readonly ModelVirtioBlock _device;
        private readonly ulong _base;
        private readonly ulong _length;

        public ModelRegisters(ModelVirtioBlock device, ulong baseOffset, ulong length)
        {
            _device = device;
            _base = baseOffset;
            _length = length;
        }

        public override ulong Length => _length;

        public override byte Read8(ulong offset) => (byte)Read(offset, 1);
        public override ushort Read16(ulong offset) => (ushort)Read(offset, 2);
        public override uint Read32(ulong offset) => (uint)Read(offset, 4);
        public override ulong Read64(ulong offset) => Read(offset, 8);
        public override void Write8(ulong offset, byte value) => Write(offset, 1, value);
        public override void Write16(ulong offset, ushort value) => Write(offset, 2, value);
        public override void Write32(ulong offset, uint value) => Write(offset, 4, value);
        public override void Write64(ulong offset, ulong value) => Write(offset, 8, value);

        private ulong Read(ulong offset, int width)
        {
            if (!Contains(offset, (ulong)width) || offset % (ulong)width != 0)
            {
                throw new System.InvalidOperationException($"read of {width} at 0x{offset:x} outside a {_length}-byte window");
            }

            return _device.Read(_base + offset, width);
        }

        private void Write(ulong offset, int width, ulong value)
        {
            if (!Contains(offset, (ulong)width) || offset % (ulong)width != 0)
            {
                throw new System.InvalidOperationException($"write of {width} at 0x{offset:x} outside a {_length}-byte window");
            }

            _device.Write(_base + offset, width, value);
        }
    }
}

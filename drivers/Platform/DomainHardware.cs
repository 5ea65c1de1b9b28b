using System.Threading;
using Keel.Drivers.Pci;
using Keel.Runtime;

namespace Keel.Drivers.Platform
{
    /// <summary>
    /// Configuration space as a Keel domain reaches it: Keel's physdev_op configuration read and write, which
    /// the kernel lets through only for the devices this domain was given (others answer -ENODEV, which
    /// enumeration takes for "absent").
    /// </summary>
    public sealed class HypercallPciConfig : PciConfigSpace
    {
        public override bool TryRead(PciAddress address, int offset, int width, out uint value) =>
            Physdev.ReadConfig(address.MachineSbdf, offset, width, out value) == 0;

        public override bool TryWrite(PciAddress address, int offset, int width, uint value) =>
            Physdev.WriteConfig(address.MachineSbdf, offset, width, value) == 0;
    }

    /// <summary>
    /// Registers in I/O frames this domain mapped uncached (Pages.MapIo): every access a volatile load or
    /// store of its width, so the compiler neither merges, splits, reorders nor drops one.
    /// </summary>
    public sealed unsafe class MappedRegisters : DeviceRegisters
    {
        private readonly byte* _base;
        private readonly ulong _length;

        /// <summary>The caller maps [base, base + length) and keeps it mapped for the object's life (forever: there is no unmapping).</summary>
        internal MappedRegisters(ulong virtualAddress, ulong length)
        {
            _base = (byte*)virtualAddress;
            _length = length;
        }

        public override ulong Length => _length;

        // Every access below is within [0, Length) (the callers check Contains) of a mapping that lives as long as this object.
        public override byte Read8(ulong offset) => Volatile.Read(ref *(_base + offset));

        public override ushort Read16(ulong offset) => Volatile.Read(ref *(ushort*)(_base + offset));

        public override uint Read32(ulong offset) => Volatile.Read(ref *(uint*)(_base + offset));

        public override ulong Read64(ulong offset) => Volatile.Read(ref *(ulong*)(_base + offset));

        public override void Write8(ulong offset, byte value) => Volatile.Write(ref *(_base + offset), value);

        public override void Write16(ulong offset, ushort value) => Volatile.Write(ref *(ushort*)(_base + offset), value);

        public override void Write32(ulong offset, uint value) => Volatile.Write(ref *(uint*)(_base + offset), value);

        public override void Write64(ulong offset, ulong value) => Volatile.Write(ref *(ulong*)(_base + offset), value);
    }

    /// <summary>A device's register block mapped through Pages.MapIo, which needs the iomem permission the control domain granted.</summary>
    public sealed class DomainMmio : MmioMapper
    {
        public override bool TryMap(ulong physicalAddress, ulong length, out DeviceRegisters registers)
        {
            registers = null;
            if (length == 0) return false;
            ulong first = physicalAddress / Memory.PageSize;
            ulong last = (physicalAddress + length - 1) / Memory.PageSize;
            ulong va = Pages.MapIo(first, (int)(last - first + 1));
            if (va == 0) return false;
            registers = new MappedRegisters(va + physicalAddress % Memory.PageSize, length);
            return true;
        }
    }

    /// <summary>
    /// DMA pages: fresh frames of this domain. With no IOMMU the bus address a device uses is the frame's
    /// machine address (so a device can reach any memory at all; the README says so).
    /// </summary>
    public sealed class DomainDma : DmaMemory
    {
        public override bool TryAllocatePage(out ulong virtualAddress, out ulong busAddress)
        {
            virtualAddress = Pages.TakePage(out ulong frame);
            busAddress = frame * Memory.PageSize;
            return virtualAddress != 0;
        }
    }
}

using Keel.Ringlib.Xen;

namespace Keel.Kernel.Io
{
    /// <summary>
    /// Which domain owns each PCI device given away (XEN_DOMCTL_assign_device / deassign_device), and what of
    /// its configuration space the owner may write. A device belongs to one domain at a time; the owner may
    /// read its whole configuration space and write it except where a write would reach beyond the device:
    /// the BARs and the expansion ROM base (moving a BAR could place the device over RAM or another
    /// device; Xen's pciback virtualises them), and the MSI and MSI-X capabilities (an enabled MSI writes an
    /// interrupt of the device's choosing into the local APIC; without interrupt remapping only the kernel
    /// may program one, and Keel routes lines only). The control domain owns every device not given away,
    /// as Xen's dom0 does: it may read and write those (sizing their BARs before it grants them), and read
    /// a device given to another domain, but not write it.
    /// </summary>
    public sealed class DeviceAssignments
    {
        public const int Capacity = 32;
        public const int ConfigBytes = 256;

        /// <summary>PCI Local Bus 3.0, 6.2.5: BAR0..BAR5 at 0x10-0x27, the expansion ROM base at 0x30-0x33 (type 0 header).</summary>
        private const int BarsStart = 0x10, BarsEnd = 0x28, RomStart = 0x30, RomEnd = 0x34;

        /// <summary>Capabilities closed to the owner, at most this many per device (MSI and MSI-X).</summary>
        public const int ClosedRangesPerDevice = 2;

        private struct Entry
        {
            internal uint Sbdf;
            internal ushort Owner;
            internal bool Used;
        }

        private readonly Entry[] _entries = new Entry[Capacity];
        private readonly ushort[] _closedStart = new ushort[Capacity * ClosedRangesPerDevice];
        private readonly ushort[] _closedEnd = new ushort[Capacity * ClosedRangesPerDevice];

        /// <summary>The owner of a device, or DomainIds.Invalid if it is nobody's.</summary>
        public ushort OwnerOf(uint sbdf)
        {
            int i = Find(sbdf);
            return i < 0 ? DomainIds.Invalid : _entries[i].Owner;
        }

        /// <summary>
        /// Gives the device to domain; closed holds (start, end) byte ranges of configuration space the owner
        /// may not write. -EBUSY if another domain owns it, -ENOSPC when the table is full. Assigning a device
        /// to its owner again succeeds.
        /// </summary>
        public long Assign(uint sbdf, ushort domain, System.ReadOnlySpan<ushort> closedStarts, System.ReadOnlySpan<ushort> closedEnds)
        {
            int i = Find(sbdf);
            if (i >= 0) return _entries[i].Owner == domain ? 0 : Errno.EBUSY;
            for (i = 0; i < Capacity && _entries[i].Used; i++) { }
            if (i == Capacity) return Errno.ENOSPC;
            _entries[i] = new Entry { Sbdf = sbdf, Owner = domain, Used = true };
            for (int c = 0; c < ClosedRangesPerDevice; c++)
            {
                bool given = c < closedStarts.Length && c < closedEnds.Length;
                _closedStart[i * ClosedRangesPerDevice + c] = given ? closedStarts[c] : (ushort)0;
                _closedEnd[i * ClosedRangesPerDevice + c] = given ? closedEnds[c] : (ushort)0;
            }
            return 0;
        }

        /// <summary>Takes the device back from domain; -EINVAL if domain does not own it.</summary>
        public long Deassign(uint sbdf, ushort domain)
        {
            int i = Find(sbdf);
            if (i < 0 || _entries[i].Owner != domain) return Errno.EINVAL;
            _entries[i] = default;
            return 0;
        }

        /// <summary>Takes back every device of an ending domain, writing their sbdfs to released; returns how many.</summary>
        public int RemoveDomain(ushort domain, System.Span<uint> released)
        {
            int n = 0;
            for (int i = 0; i < Capacity; i++)
            {
                if (!_entries[i].Used || _entries[i].Owner != domain) continue;
                if (n < released.Length) released[n++] = _entries[i].Sbdf;
                _entries[i] = default;
            }
            return n;
        }

        /// <summary>
        /// May domain make this access (offset and width already checked by <see cref="CheckShape"/>)? 0, or
        /// -ENODEV for a device that is not the caller's (to a driver domain enumerating the bus it looks
        /// absent), -EPERM for a write the owner may not make or the control domain's write to a device it
        /// gave away.
        /// </summary>
        public long Check(uint sbdf, ushort domain, bool privileged, int offset, int width, bool write)
        {
            int i = Find(sbdf);
            if (privileged && i < 0) return 0;
            bool owner = i >= 0 && _entries[i].Owner == domain;
            if (!owner) return privileged && !write ? 0 : privileged ? Errno.EPERM : Errno.ENODEV;
            if (!write) return 0;
            int end = offset + width;
            if (Overlaps(offset, end, BarsStart, BarsEnd) || Overlaps(offset, end, RomStart, RomEnd)) return Errno.EPERM;
            for (int c = 0; c < ClosedRangesPerDevice; c++)
            {
                int at = i * ClosedRangesPerDevice + c;
                if (Overlaps(offset, end, _closedStart[at], _closedEnd[at])) return Errno.EPERM;
            }
            return 0;
        }

        /// <summary>A register access configuration mechanism #1 can make: width 1, 2 or 4, aligned, inside the 256-byte space.</summary>
        public static long CheckShape(uint offset, uint width)
        {
            if (width != 1 && width != 2 && width != 4) return Errno.EINVAL;
            if (offset % width != 0 || offset >= ConfigBytes || width > ConfigBytes - offset) return Errno.EINVAL;
            return 0;
        }

        private static bool Overlaps(int start, int end, int rangeStart, int rangeEnd) => start < rangeEnd && rangeStart < end;

        private int Find(uint sbdf)
        {
            for (int i = 0; i < Capacity; i++)
            {
                if (_entries[i].Used && _entries[i].Sbdf == sbdf) return i;
            }
            return -1;
        }
    }
}

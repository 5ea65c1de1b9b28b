using Keel.Ringlib.Xen;

namespace Keel.Kernel.Io
{
    /// <summary>The three kinds of hardware a domain can be given (Xen's d->iomem_caps, ioport_caps, irq_caps).</summary>
    public enum IoResource { Memory = 0, Ports = 1, Irqs = 2 }

    /// <summary>
    /// Which I/O frames, I/O ports and interrupt lines each domain may use, as the control domain grants
    /// them (XEN_DOMCTL_iomem_permission, _ioport_permission, _irq_permission). Xen gives dom0 everything
    /// but its own hardware; Keel's control domain holds nothing itself and may grant anything that is not
    /// the kernel's, which the constructor's reserved sets name (the APIC window, the kernel's ports and
    /// lines). Per-domain sets are made on a domain's first grant and kept for the next domain with that id
    /// (there is no collector), so granting costs the heap at most three sets per domain id.
    /// </summary>
    public sealed class IoPermissions
    {
        private const int Kinds = 3;

        private readonly RangeSet[][] _sets;
        private readonly RangeSet[] _reserved;
        private readonly ulong[] _limit;

        /// <param name="domains">Domain ids are below this.</param>
        /// <param name="reserved">Per kind, the values no domain may be given.</param>
        /// <param name="limit">Per kind, one past the largest value that exists (frame numbers, ports, lines).</param>
        public IoPermissions(int domains, RangeSet[] reserved, ulong[] limit)
        {
            _sets = new RangeSet[domains][];
            _reserved = reserved;
            _limit = limit;
        }

        /// <summary>
        /// Grants or revokes first .. first + count - 1. -EINVAL for an empty or out-of-range span, -EPERM for
        /// one touching the kernel's own, -ENOSPC when the domain's set is full (nothing changed then).
        /// </summary>
        public long Change(ushort domain, IoResource kind, ulong first, ulong count, bool allow)
        {
            if (domain >= _sets.Length || count == 0) return Errno.EINVAL;
            ulong limit = _limit[(int)kind];
            if (first >= limit || count > limit - first) return Errno.EINVAL;
            ulong last = first + count - 1;
            if (allow && _reserved[(int)kind].Overlaps(first, last)) return Errno.EPERM;
            RangeSet set = Set(domain, kind, create: allow);
            if (set == null) return 0;
            bool done = allow ? set.Add(first, last) : set.Remove(first, last);
            return done ? 0 : Errno.ENOSPC;
        }

        /// <summary>Xen's iomem_access_permitted / ioports_access_permitted / irq_access_permitted for first..last.</summary>
        public bool Permits(ushort domain, IoResource kind, ulong first, ulong last)
        {
            RangeSet set = Set(domain, kind, create: false);
            return set != null && set.Contains(first, last);
        }

        /// <summary>Xen's cache_flush_permitted: the domain has any I/O memory or ports.</summary>
        public bool HasIoAccess(ushort domain)
        {
            RangeSet memory = Set(domain, IoResource.Memory, create: false);
            RangeSet ports = Set(domain, IoResource.Ports, create: false);
            return (memory != null && !memory.IsEmpty) || (ports != null && !ports.IsEmpty);
        }

        /// <summary>Forgets every permission of an ending domain.</summary>
        public void RemoveDomain(ushort domain)
        {
            if (domain >= _sets.Length || _sets[domain] == null) return;
            for (int k = 0; k < Kinds; k++) _sets[domain][k].Clear();
        }

        private RangeSet Set(ushort domain, IoResource kind, bool create)
        {
            if (domain >= _sets.Length) return null;
            RangeSet[] sets = _sets[domain];
            if (sets == null)
            {
                if (!create) return null;
                sets = new RangeSet[Kinds];
                for (int k = 0; k < Kinds; k++) sets[k] = new RangeSet();
                _sets[domain] = sets;
            }
            return sets[(int)kind];
        }
    }
}

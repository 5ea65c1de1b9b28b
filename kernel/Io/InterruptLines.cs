using System;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Io
{
    /// <summary>The interrupt controller's inputs as the routing logic drives them (the I/O APIC's redirection entries).</summary>
    public interface IInterruptPins
    {
        /// <summary>Sends the line's interrupts to the kernel, with the given trigger mode and polarity, unmasked.</summary>
        void Route(int line, bool level, bool activeLow);

        void Mask(int line);

        void Unmask(int line);
    }

    /// <summary>One domain's port to raise for a line that fired.</summary>
    public struct LineTarget
    {
        public ushort Domain;
        public int Port;
    }

    /// <summary>
    /// Device interrupt lines (GSIs) routed to the event channels of the domains that own the devices, as
    /// Xen's pirqs (xen/arch/x86/irq.c: pirq_guest_bind, __do_IRQ_guest, pirq_guest_eoi). A domain maps a
    /// line it was given (PHYSDEVOP_map_pirq; the pirq is the line's number, as Xen gives the hardware
    /// domain) and binds a port to it (EVTCHNOP_bind_pirq). A level-triggered line is masked when it fires,
    /// every bound domain's port is raised, and the line is unmasked once each of them has said it is done
    /// (PHYSDEVOP_eoi), so a device keeps asserting it only until its driver has served it. Up to
    /// <see cref="MaxSharers"/> domains may share a line if each binds it shareable (BIND_PIRQ__WILL_SHARE).
    /// Edge-triggered lines are never masked and need no EOI. Nothing here allocates after construction.
    /// </summary>
    public sealed class InterruptLines<TPins> where TPins : struct, IInterruptPins
    {
        public const int MaxLines = 64;
        public const int MaxSharers = 4;

        private struct Line
        {
            internal bool Level;
            internal bool ActiveLow;
            internal bool Shareable;
            internal int Bound;
            internal int Waiting;
        }

        private readonly Line[] _lines = new Line[MaxLines];
        private readonly ushort[] _domain = new ushort[MaxLines * MaxSharers];
        private readonly int[] _port = new int[MaxLines * MaxSharers];
        private readonly bool[] _waiting = new bool[MaxLines * MaxSharers];
        private readonly ulong[] _mapped;
        private readonly int _lineCount;
        private TPins _pins;

        /// <param name="domains">Domain ids are below this.</param>
        /// <param name="lines">How many lines the controller has (at most MaxLines are used).</param>
        public InterruptLines(int domains, int lines, TPins pins)
        {
            _mapped = new ulong[domains];
            _lineCount = Math.Min(lines, MaxLines);
            _pins = pins;
            // Every line starts as a PCI line is wired on the machines Keel runs on: level-triggered, and
            // active high as QEMU's ACPI tables describe its PCI link interrupts; PHYSDEVOP_setup_gsi changes it.
            for (int i = 0; i < MaxLines; i++) _lines[i].Level = true;
        }

        public int LineCount => _lineCount;

        public bool IsLine(int line) => line >= 0 && line < _lineCount;

        /// <summary>PHYSDEVOP_setup_gsi: how the line signals; -EBUSY while a domain has it bound.</summary>
        public long Configure(int line, bool level, bool activeLow)
        {
            if (!IsLine(line)) return Errno.EINVAL;
            if (_lines[line].Bound != 0) return Errno.EBUSY;
            _lines[line].Level = level;
            _lines[line].ActiveLow = activeLow;
            return 0;
        }

        /// <summary>PHYSDEVOP_map_pirq for a GSI: the caller has checked the domain's permission. Returns the pirq (the line).</summary>
        public long Map(ushort domain, int line)
        {
            if (!IsLine(line) || domain >= _mapped.Length) return Errno.EINVAL;
            _mapped[domain] |= 1UL << line;
            return line;
        }

        public bool IsMapped(ushort domain, int pirq) => IsLine(pirq) && domain < _mapped.Length && (_mapped[domain] & (1UL << pirq)) != 0;

        /// <summary>PHYSDEVOP_unmap_pirq: unbinds the domain from the line too. -EINVAL if it was not mapped.</summary>
        public long Unmap(ushort domain, int pirq)
        {
            if (!IsMapped(domain, pirq)) return Errno.EINVAL;
            Unbind(domain, pirq);
            _mapped[domain] &= ~(1UL << pirq);
            return 0;
        }

        /// <summary>
        /// EVTCHNOP_bind_pirq's routing half: port of domain is raised when the mapped line fires. -EINVAL for a
        /// line not mapped, -EEXIST if the domain has it bound already, -EBUSY if it is bound by another
        /// domain and either does not share, or MaxSharers already do. The first binding routes and unmasks it.
        /// </summary>
        public long Bind(ushort domain, int pirq, int port, bool share)
        {
            if (!IsMapped(domain, pirq)) return Errno.EINVAL;
            ref Line line = ref _lines[pirq];
            if (IndexOf(domain, pirq) >= 0) return Errno.EEXIST;
            if (line.Bound != 0 && (!share || !line.Shareable || line.Bound == MaxSharers)) return Errno.EBUSY;
            int slot = pirq * MaxSharers + line.Bound;
            _domain[slot] = domain;
            _port[slot] = port;
            _waiting[slot] = false;
            line.Bound++;
            if (line.Bound == 1)
            {
                line.Shareable = share;
                line.Waiting = 0;
                _pins.Route(pirq, line.Level, line.ActiveLow);
            }
            return 0;
        }

        /// <summary>Undoes a binding (its port closed, the pirq unmapped, the domain ended); a line nobody is bound to is masked.</summary>
        public void Unbind(ushort domain, int pirq)
        {
            int index = IndexOf(domain, pirq);
            if (index < 0) return;
            ref Line line = ref _lines[pirq];
            int slot = pirq * MaxSharers + index;
            bool wasWaiting = _waiting[slot];
            int last = pirq * MaxSharers + line.Bound - 1;
            _domain[slot] = _domain[last];
            _port[slot] = _port[last];
            _waiting[slot] = _waiting[last];
            line.Bound--;
            if (line.Bound == 0)
            {
                line.Waiting = 0;
                _pins.Mask(pirq);
                return;
            }
            if (wasWaiting) EndOne(pirq);
        }

        /// <summary>The domain's bound port for the pirq, 0 if none.</summary>
        public int PortOf(ushort domain, int pirq)
        {
            int index = IndexOf(domain, pirq);
            return index < 0 ? 0 : _port[pirq * MaxSharers + index];
        }

        /// <summary>
        /// The line fired: a level line is masked until every bound domain ends it; the ports to raise are
        /// written to targets (at most MaxSharers) and counted. A line nobody is bound to (a stray) is masked.
        /// </summary>
        public int Fire(int line, Span<LineTarget> targets)
        {
            if (!IsLine(line)) return 0;
            ref Line l = ref _lines[line];
            if (l.Bound == 0)
            {
                _pins.Mask(line);
                return 0;
            }
            if (l.Level)
            {
                // Fired while some domain had not ended the last one: only possible if it was unmasked early; count once.
                _pins.Mask(line);
                l.Waiting = l.Bound;
            }
            int n = 0;
            for (int i = 0; i < l.Bound && n < targets.Length; i++)
            {
                int slot = line * MaxSharers + i;
                if (l.Level) _waiting[slot] = true;
                targets[n++] = new LineTarget { Domain = _domain[slot], Port = _port[slot] };
            }
            return n;
        }

        /// <summary>PHYSDEVOP_eoi: the domain has served the pirq. Unmasks a level line when the last sharer ends it.
        /// -EINVAL if the domain has not mapped it; ending a line that is not waiting on it is harmless, as on Xen.</summary>
        public long EndOfInterrupt(ushort domain, int pirq)
        {
            if (!IsMapped(domain, pirq)) return Errno.EINVAL;
            int index = IndexOf(domain, pirq);
            if (index < 0) return 0;
            int slot = pirq * MaxSharers + index;
            if (!_waiting[slot]) return 0;
            _waiting[slot] = false;
            EndOne(pirq);
            return 0;
        }

        /// <summary>XENIRQSTAT_needs_eoi: a level line waits for PHYSDEVOP_eoi.</summary>
        public bool NeedsEoi(int pirq) => IsLine(pirq) && _lines[pirq].Level;

        /// <summary>Unbinds every line of the domain, leaving them mapped (its ports were reset).</summary>
        public void UnbindAll(ushort domain)
        {
            for (int line = 0; line < _lineCount; line++) Unbind(domain, line);
        }

        /// <summary>Unbinds and unmaps every line of an ending domain.</summary>
        public void RemoveDomain(ushort domain)
        {
            if (domain >= _mapped.Length) return;
            UnbindAll(domain);
            _mapped[domain] = 0;
        }

        private void EndOne(int line)
        {
            ref Line l = ref _lines[line];
            if (l.Waiting == 0) return;
            l.Waiting--;
            if (l.Waiting == 0) _pins.Unmask(line);
        }

        private int IndexOf(ushort domain, int pirq)
        {
            if (!IsLine(pirq)) return -1;
            int bound = _lines[pirq].Bound;
            for (int i = 0; i < bound; i++)
            {
                if (_domain[pirq * MaxSharers + i] == domain) return i;
            }
            return -1;
        }
    }
}

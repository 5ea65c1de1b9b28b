namespace Keel.Kernel.Io
{
    /// <summary>
    /// A set of unsigned values kept as at most <see cref="Capacity"/> disjoint inclusive ranges, sorted and
    /// merged when they touch: Xen's rangeset (xen/common/rangeset.c), which holds a domain's iomem, ioport
    /// and irq capabilities. Fixed-size, so a domain asking for permissions one by one cannot grow the
    /// kernel's heap: a change that would need more ranges fails and leaves the set as it was.
    /// </summary>
    public sealed class RangeSet
    {
        public const int Capacity = 16;

        private readonly ulong[] _first = new ulong[Capacity];
        private readonly ulong[] _last = new ulong[Capacity];
        private int _count;

        public int Count => _count;

        public bool IsEmpty => _count == 0;

        /// <summary>True if every value in first..last is in the set (Xen's rangeset_contains_range).</summary>
        public bool Contains(ulong first, ulong last)
        {
            for (int i = 0; i < _count; i++)
            {
                if (_first[i] <= first && last <= _last[i]) return true;
            }
            return false;
        }

        public bool Contains(ulong value) => Contains(value, value);

        /// <summary>True if any value in first..last is in the set.</summary>
        public bool Overlaps(ulong first, ulong last)
        {
            for (int i = 0; i < _count; i++)
            {
                if (_first[i] <= last && first <= _last[i]) return true;
            }
            return false;
        }

        /// <summary>Adds first..last (first &lt;= last), joining every range it touches; false if that needs a range more than Capacity.</summary>
        public bool Add(ulong first, ulong last)
        {
            int at = 0;
            while (at < _count && _last[at] != ulong.MaxValue && _last[at] + 1 < first) at++;
            int end = at;
            while (end < _count && (last == ulong.MaxValue || _first[end] <= last + 1)) end++;
            if (end == at)
            {
                if (_count == Capacity) return false;
                for (int i = _count; i > at; i--) Move(i - 1, i);
                _first[at] = first;
                _last[at] = last;
                _count++;
                return true;
            }
            // Ranges at..end-1 touch the new one: they become one.
            ulong joinedFirst = first < _first[at] ? first : _first[at];
            ulong joinedLast = last > _last[end - 1] ? last : _last[end - 1];
            _first[at] = joinedFirst;
            _last[at] = joinedLast;
            int removed = end - at - 1;
            for (int i = end; i < _count; i++) Move(i, i - removed);
            _count -= removed;
            return true;
        }

        /// <summary>Removes first..last (first &lt;= last); false, and nothing changed, if cutting a range in two needs one more than Capacity.</summary>
        public bool Remove(ulong first, ulong last)
        {
            for (int i = 0; i < _count; i++)
            {
                if (_first[i] < first && _last[i] > last)
                {
                    if (_count == Capacity) return false;
                    for (int j = _count; j > i + 1; j--) Move(j - 1, j);
                    _first[i + 1] = last + 1;
                    _last[i + 1] = _last[i];
                    _last[i] = first - 1;
                    _count++;
                    return true;
                }
            }
            int kept = 0;
            for (int i = 0; i < _count; i++)
            {
                ulong f = _first[i], l = _last[i];
                if (l < first || f > last)
                {
                    Keep(ref kept, f, l);
                    continue;
                }
                if (f < first) Keep(ref kept, f, first - 1);
                else if (l > last) Keep(ref kept, last + 1, l);
            }
            _count = kept;
            return true;
        }

        public void Clear() => _count = 0;

        private void Keep(ref int kept, ulong first, ulong last)
        {
            _first[kept] = first;
            _last[kept] = last;
            kept++;
        }

        private void Move(int from, int to)
        {
            _first[to] = _first[from];
            _last[to] = _last[from];
        }
    }
}

namespace Keel.Kernel.Memory
{
    /// <summary>
    /// Physical 4 KiB frames, one bit each (1 = in use). Every frame starts in use; usable ranges from the
    /// memory map are then freed (shrunk inward to whole frames) and reserved ranges (the kernel image,
    /// boot data, modules) marked in use again, so nothing outside a usable range, and nothing reserved,
    /// is ever handed out. Allocation takes the lowest free frame.
    /// Invariant: FreeFrames equals the number of zero bits below FrameCount.
    /// </summary>
    public sealed class FrameAllocator
    {
        public const ulong FrameSize = 4096;

        private readonly ulong[] _used;
        private readonly ulong _frameCount;
        private ulong _freeFrames;
        private ulong _searchFrom;

        /// <summary>Covers physical memory [0, limit); frames at or above the limit do not exist for it.</summary>
        public FrameAllocator(ulong limit)
        {
            _frameCount = limit / FrameSize;
            _used = new ulong[(_frameCount + 63) / 64];
            for (int i = 0; i < _used.Length; i++) _used[i] = ulong.MaxValue;
        }

        public ulong FrameCount => _frameCount;

        public ulong FreeFrames => _freeFrames;

        /// <summary>Marks the whole frames inside [start, start + length) free.</summary>
        public void AddUsable(ulong start, ulong length)
        {
            if (start + length < start) return;
            ulong first = (start + FrameSize - 1) / FrameSize;
            ulong end = (start + length) / FrameSize;
            for (ulong frame = first; frame < end && frame < _frameCount; frame++)
            {
                if (IsUsed(frame))
                {
                    SetUsed(frame, false);
                    _freeFrames++;
                }
            }
        }

        /// <summary>Marks every frame that overlaps [start, start + length) in use.</summary>
        public void Reserve(ulong start, ulong length)
        {
            if (length == 0) return;
            ulong end = start + length < start ? ulong.MaxValue : start + length;
            ulong last = (end - 1) / FrameSize;
            for (ulong frame = start / FrameSize; frame <= last && frame < _frameCount; frame++)
            {
                if (!IsUsed(frame))
                {
                    SetUsed(frame, true);
                    _freeFrames--;
                }
            }
        }

        /// <summary>Takes the lowest free frame; false when memory is exhausted.</summary>
        public bool TryAllocate(out ulong physicalAddress)
        {
            for (ulong word = _searchFrom / 64; word < (ulong)_used.Length; word++)
            {
                if (_used[word] == ulong.MaxValue) continue;
                for (int bit = 0; bit < 64; bit++)
                {
                    ulong frame = word * 64 + (ulong)bit;
                    if (frame >= _frameCount) break;
                    if ((_used[word] & (1UL << bit)) == 0)
                    {
                        SetUsed(frame, true);
                        _freeFrames--;
                        _searchFrom = frame + 1;
                        physicalAddress = frame * FrameSize;
                        return true;
                    }
                }
            }
            physicalAddress = 0;
            return false;
        }

        /// <summary>
        /// Takes the lowest run of count physically consecutive free frames (for memory that must be contiguous
        /// in the direct map, such as a large heap region); false if there is no such run.
        /// </summary>
        public bool TryAllocateContiguous(ulong count, out ulong physicalAddress)
        {
            physicalAddress = 0;
            if (count == 0) return false;
            ulong run = 0;
            for (ulong frame = 0; frame < _frameCount; frame++)
            {
                run = IsUsed(frame) ? 0 : run + 1;
                if (run < count) continue;
                ulong first = frame + 1 - count;
                for (ulong f = first; f <= frame; f++) SetUsed(f, true);
                _freeFrames -= count;
                physicalAddress = first * FrameSize;
                return true;
            }
            return false;
        }

        /// <summary>Returns a frame. False (and no change) for an unaligned, unknown or already free frame.</summary>
        public bool Free(ulong physicalAddress)
        {
            if (physicalAddress % FrameSize != 0) return false;
            ulong frame = physicalAddress / FrameSize;
            if (frame >= _frameCount || !IsUsed(frame)) return false;
            SetUsed(frame, false);
            _freeFrames++;
            if (frame < _searchFrom) _searchFrom = frame;
            return true;
        }

        public bool IsFree(ulong physicalAddress)
        {
            ulong frame = physicalAddress / FrameSize;
            return frame < _frameCount && !IsUsed(frame);
        }

        private bool IsUsed(ulong frame) => (_used[frame / 64] & (1UL << (int)(frame % 64))) != 0;

        private void SetUsed(ulong frame, bool used)
        {
            if (used) _used[frame / 64] |= 1UL << (int)(frame % 64);
            else _used[frame / 64] &= ~(1UL << (int)(frame % 64));
            if (!used && frame < _searchFrom) _searchFrom = frame;
        }
    }
}

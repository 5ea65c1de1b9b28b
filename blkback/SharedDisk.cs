using System;
using Keel.Blkback.Core;
using Keel.Drivers.Virtio;

namespace Keel.Blkback
{
    /// <summary>
    /// One physical disk (a started VirtioBlock) shared by every virtual block device carved from it. Each vbd
    /// sees its own <see cref="DiskView"/>: requests go to the one device queue with the view's number in
    /// the token's top byte, and completions reaped from the device are sorted back to the view that asked,
    /// so one vbd's engine never takes another's answers.
    /// </summary>
    internal sealed class SharedDisk
    {
        internal const int MaxViews = Vbds.MaxVbds;
        private const int ViewShift = 56;

        private readonly VirtioBlock _device;
        private readonly DiskView[] _views = new DiskView[MaxViews];
        private readonly BlockCompletion[] _reaped;
        private int _viewCount;

        internal SharedDisk(VirtioBlock device)
        {
            _device = device;
            _reaped = new BlockCompletion[device.QueueDepth];
        }

        internal VirtioBlock Device => _device;

        /// <summary>A view for one more vbd (made once per vbd slot and kept: there is no collector); null when MaxViews exist.</summary>
        internal DiskView NewView()
        {
            if (_viewCount == MaxViews) return null;
            var view = new DiskView(this, _viewCount, _device.QueueDepth);
            _views[_viewCount++] = view;
            return view;
        }

        internal bool Submit(int view, BlockOperation operation, ulong sector, ReadOnlySpan<BlockSegment> segments, ulong token)
        {
            if ((token >> ViewShift) != 0) return false;
            return _device.TrySubmit(operation, sector, segments, ((ulong)view << ViewShift) | token);
        }

        internal void Kick() => _device.Kick();

        /// <summary>Takes every completion the device has and hands each to its view.</summary>
        internal void Distribute()
        {
            int n;
            while ((n = _device.Reap(_reaped)) > 0)
            {
                for (int i = 0; i < n; i++)
                {
                    int view = (int)(_reaped[i].Token >> ViewShift);
                    if (view < _viewCount) _views[view].Deliver(new BlockCompletion(_reaped[i].Token & ((1UL << ViewShift) - 1), _reaped[i].Status));
                }
            }
        }
    }

    /// <summary>A vbd's window on a <see cref="SharedDisk"/>: the whole disk (the engine applies the vbd's extent).</summary>
    internal sealed class DiskView : BlockDevice
    {
        private readonly SharedDisk _disk;
        private readonly int _index;
        private readonly BlockCompletion[] _done;
        private int _doneCount;

        internal DiskView(SharedDisk disk, int index, int depth)
        {
            _disk = disk;
            _index = index;
            _done = new BlockCompletion[depth];
        }

        public override ulong Capacity => _disk.Device.Capacity;

        public override bool IsReadOnly => _disk.Device.IsReadOnly;

        public override int MaxSegments => _disk.Device.MaxSegments;

        public override int QueueDepth => _disk.Device.QueueDepth;

        public override bool TrySubmit(BlockOperation operation, ulong sector, ReadOnlySpan<BlockSegment> segments, ulong token) =>
            _disk.Submit(_index, operation, sector, segments, token);

        public override void Kick() => _disk.Kick();

        public override int Reap(Span<BlockCompletion> completions)
        {
            _disk.Distribute();
            int n = Math.Min(completions.Length, _doneCount);
            for (int i = 0; i < n; i++) completions[i] = _done[i];
            for (int i = n; i < _doneCount; i++) _done[i - n] = _done[i];
            _doneCount -= n;
            return n;
        }

        /// <summary>The device holds at most QueueDepth requests, so a view never has more completions than that waiting.</summary>
        internal void Deliver(in BlockCompletion completion)
        {
            if (_doneCount < _done.Length) _done[_doneCount++] = completion;
        }
    }
}

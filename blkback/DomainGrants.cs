using Keel.Blkback.Core;
using Keel.Runtime;

namespace Keel.Blkback
{
    /// <summary>
    /// The engine's grant seam over the grant-table hypercalls: data pages mapped for the device only
    /// (GNTMAP_device_map: a bus address, no page-table work), indirect-segment pages mapped into one of a
    /// few address windows for the CPU to read. Windows are taken once and reused (TakeWindow never gives back).
    /// </summary>
    internal sealed class DomainGrants : GrantMapper
    {
        private const int Windows = 16;

        private readonly ulong[] _window = new ulong[Windows];
        private readonly bool[] _busy = new bool[Windows];

        public override bool TryMapForDevice(ushort frontend, uint grantRef, bool deviceWrites, out ulong busAddress, out uint handle) =>
            Grants.MapForDevice(frontend, grantRef, readOnly: !deviceWrites, out busAddress, out handle) == 0;

        public override void UnmapForDevice(uint handle, ulong busAddress) => Grants.UnmapForDevice(busAddress, handle);

        public override bool TryMapForCpu(ushort frontend, uint grantRef, out ulong virtualAddress, out uint handle)
        {
            virtualAddress = 0;
            handle = 0;
            int w = 0;
            while (w < Windows && _busy[w]) w++;
            if (w == Windows) return false;
            if (_window[w] == 0) _window[w] = Pages.TakeWindow(1);
            if (_window[w] == 0 || Grants.Map(frontend, grantRef, _window[w], readOnly: true, out handle) != 0) return false;
            _busy[w] = true;
            virtualAddress = _window[w];
            return true;
        }

        public override void UnmapForCpu(ulong virtualAddress, uint handle)
        {
            Grants.Unmap(virtualAddress, handle);
            for (int w = 0; w < Windows; w++)
            {
                if (_window[w] == virtualAddress) _busy[w] = false;
            }
        }
    }

    /// <summary>The engine's notifier: a send on the vbd's event channel.</summary>
    internal sealed class PortNotifier : Notifier
    {
        internal uint Port;

        public override void Notify() => Events.Send(Port);
    }
}

using System;
using Keel.Blkback.Core;
using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Blkback
{
    /// <summary>
    /// The engine's grant seam over the grant-table hypercalls: data pages mapped for the device only
    /// (GNTMAP_device_map: a bus address, no page-table work), indirect segment descriptors copied with
    /// GNTTABOP_copy into a page of blkback's own and from there into the engine's array.
    /// </summary>
    internal sealed unsafe class DomainGrants : GrantMapper
    {
        private ulong _bounceVa, _bounceFrame;

        // The operations of one hypercall; a longer batch takes one call per this many pages.
        private const int PerCall = VbdFeatures.DefaultMaxIndirectSegments;
        private readonly GrantMapRequest[] _maps = new GrantMapRequest[PerCall];
        private readonly GrantUnmapRequest[] _unmaps = new GrantUnmapRequest[PerCall];

        public override void MapForDevice(ushort frontend, Span<DeviceMapping> pages)
        {
            for (int first = 0; first < pages.Length; first += PerCall)
            {
                Span<DeviceMapping> part = pages.Slice(first, Math.Min(PerCall, pages.Length - first));
                for (int i = 0; i < part.Length; i++)
                {
                    _maps[i] = default;
                    _maps[i].Flags = GrantMapFlags.DeviceMap | (part[i].DeviceWrites ? 0 : GrantMapFlags.ReadOnly);
                    _maps[i].Ref = part[i].GrantRef;
                    _maps[i].Domain = frontend;
                }
                // A failed call (-EFAULT cannot happen: the array is this domain's) leaves every status unset: none mapped.
                bool answered = Grants.MapBatch(_maps.AsSpan(0, part.Length)) == 0;
                for (int i = 0; i < part.Length; i++)
                {
                    part[i].Mapped = answered && _maps[i].Status == GrantStatus.Okay;
                    part[i].BusAddress = part[i].Mapped ? _maps[i].DeviceBusAddress : 0;
                    part[i].Handle = part[i].Mapped ? _maps[i].Handle : 0;
                }
            }
        }

        public override void UnmapForDevice(ReadOnlySpan<DeviceMapping> pages)
        {
            int count = 0;
            for (int i = 0; i < pages.Length; i++)
            {
                if (!pages[i].Mapped) continue;
                if (count == PerCall)
                {
                    Grants.UnmapBatch(_unmaps.AsSpan(0, count));
                    count = 0;
                }
                _unmaps[count] = default;
                _unmaps[count].DeviceBusAddress = pages[i].BusAddress;
                _unmaps[count].Handle = pages[i].Handle;
                count++;
            }
            if (count > 0) Grants.UnmapBatch(_unmaps.AsSpan(0, count));
        }

        public override bool TryCopyFromGrant(ushort frontend, uint grantRef, Span<byte> into)
        {
            if (into.Length > (int)Memory.PageSize) return false;
            if (_bounceVa == 0) _bounceVa = Pages.TakePage(out _bounceFrame);
            if (_bounceVa == 0) return false;
            GrantCopyRequest op = default;
            op.Source.Ref = grantRef;
            op.Source.Domain = frontend;
            op.Destination.Frame = _bounceFrame;
            op.Destination.Domain = DomainIds.Self;
            op.Length = (ushort)into.Length;
            op.Flags = GrantCopyRequest.SourceIsRef;
            if (Grants.Copy(ref op) != 0) return false;
            // Sound: the bounce page is this domain's own, mapped at _bounceVa for good, and into.Length <= 4096.
            new ReadOnlySpan<byte>((void*)_bounceVa, into.Length).CopyTo(into);
            return true;
        }
    }

    /// <summary>The engine's notifier: a send on the vbd's event channel.</summary>
    internal sealed class PortNotifier : Notifier
    {
        internal uint Port;

        public override void Notify() => Events.Send(Port);
    }
}

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

        public override bool TryMapForDevice(ushort frontend, uint grantRef, bool deviceWrites, out ulong busAddress, out uint handle) =>
            Grants.MapForDevice(frontend, grantRef, readOnly: !deviceWrites, out busAddress, out handle) == 0;

        public override void UnmapForDevice(uint handle, ulong busAddress) => Grants.UnmapForDevice(busAddress, handle);

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

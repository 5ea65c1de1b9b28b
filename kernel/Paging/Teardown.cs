using System;

namespace Keel.Kernel.Paging
{
    /// <summary>Destroying a domain's memory (Xen's vcpu_destroy_pagetables and relinquish_memory).</summary>
    public sealed partial class DirectPaging<TMemory, TIo>
    {
        /// <summary>
        /// Drops the base pointers of <paramref name="vcpus"/> (every vCPU of the domain), unpins the domain's tables and releases every frame it owns.
        /// Each frame goes back to the allocator as soon as nothing else references it; returns how many are
        /// still referenced (by other domains, which free them when they let go).
        ///
        /// Type references never form a circle: an entry types a table of the level below, or, linear, one
        /// of its own level that holds no linear entries itself, and a table holding linear entries is never
        /// the target of one (XSA-240). So once pins and base pointers are gone, demotion cascades down from
        /// the tops and every table is demoted; Xen's forced devalidation in relinquish_memory dates from
        /// before that rule and is not needed here (the property test checks every frame comes back).
        ///
        /// The freed frames may linger in TLBs, so a full flush is added to <paramref name="flush"/>: do it
        /// before the frames go to anyone else. One pass over the frame table.
        /// </summary>
        public uint DestroyDomain(ushort domain, Span<VcpuTables> vcpus, ref TlbFlush flush)
        {
            for (int i = 0; i < vcpus.Length; i++) DropBasePointers(ref vcpus[i]);
            ReleaseFrames(domain);
            AddRequiredFlush(ref flush);
            return _frames.OwnedFrames(domain);
        }

        private void DropBasePointers(ref VcpuTables vcpu)
        {
            if (vcpu.KernelL4 != 0) PutTypedReference(vcpu.KernelL4);
            if (vcpu.UserL4 != 0) PutTypedReference(vcpu.UserL4);
            vcpu = default;
        }

        /// <summary>A reference of our own is held on each frame meanwhile, so none is freed under us.</summary>
        private void ReleaseFrames(ushort domain)
        {
            for (ulong mfn = 0; mfn < _frames.FrameCount; mfn++)
            {
                if (!_frames.TryGetReference(mfn, domain)) continue;
                if (_frames.TryClearPinned(mfn)) PutTypedReference(mfn);
                _frames.ReleaseByOwner(domain, mfn);
                _frames.PutReference(mfn);
            }
        }
    }
}

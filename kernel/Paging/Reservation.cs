using Keel.Kernel.Memory;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Paging
{
    /// <summary>The frame-table side of memory_op's decrease_reservation (xen/common/memory.c).</summary>
    public sealed partial class DirectPaging<TMemory, TIo>
    {
        /// <summary>
        /// Xen's guest_remove_page for a PV domain: the domain must own the frame and it must still be live
        /// (-EINVAL otherwise, which ends the caller's batch). The allocation reference goes, if the domain
        /// still held it, and the frame is freed once nothing else references it: a frame still mapped, used
        /// as a table or pinned stays until that ends. A frame given back already but still referenced counts
        /// as done again, as on Xen, where put_page_alloc_ref does nothing the second time. A free adds a full
        /// flush to <paramref name="flush"/>.
        /// </summary>
        public long GiveBackFrame(ushort domain, ulong mfn, ref TlbFlush flush)
        {
            FrameInfo frame = _frames[mfn];
            if (frame.Owner != domain || frame.ReferenceCount == 0) return Errno.EINVAL;
            return frame.IsAllocated ? ReleaseFrame(domain, mfn, ref flush) : 0;
        }
    }
}

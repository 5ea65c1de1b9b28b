namespace Keel.Kernel.Paging
{
    /// <summary>
    /// The page tables one vCPU runs on, by MFN, 0 for none (Xen's guest_table and guest_table_user).
    /// Each non-zero table holds a general and an L4 type reference, taken by NEW_BASEPTR or
    /// NEW_USER_BASEPTR and dropped when replaced or at teardown. The caller keeps one per vCPU.
    /// </summary>
    public struct VcpuTables
    {
        /// <summary>The L4 used in guest kernel mode, and by hypercalls that walk the guest's tables.</summary>
        public ulong KernelL4;

        /// <summary>The L4 used in guest user mode; 0 means the kernel's.</summary>
        public ulong UserL4;
    }

    /// <summary>Grants I/O rights, decided outside paging (the domain's iomem and ioport capabilities).</summary>
    public interface IIoPermissions
    {
        /// <summary>Xen's iomem_access_permitted(d, mfn, mfn): the domain may map this frame of I/O memory.</summary>
        bool MayMapIo(ushort domain, ulong mfn);

        /// <summary>Xen's cache_flush_permitted(d): the domain has some I/O memory or ports, so it may choose
        /// memory types in its L1 entries and ask for caches to be written back.</summary>
        bool HasIoAccess(ushort domain);
    }
}

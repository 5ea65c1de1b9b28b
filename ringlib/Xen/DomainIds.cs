namespace Keel.Ringlib.Xen
{
    /// <summary>Domain identifiers with a meaning of their own (xen/include/public/xen.h, DOMID_*).</summary>
    public static class DomainIds
    {
        /// <summary>The control domain, built first by the kernel (Xen's dom0), which serves every domain's console and store.</summary>
        public const ushort ControlDomain = 0;

        /// <summary>"The calling domain", as a hypercall's foreign-domain argument.</summary>
        public const ushort Self = 0x7FF0;

        /// <summary>Owner of I/O memory: frames outside RAM, mapped only with an I/O-memory permission.</summary>
        public const ushort Io = 0x7FF1;

        /// <summary>Owner of the hypervisor's own frames.</summary>
        public const ushort Xen = 0x7FF2;

        /// <summary>No owner: a free frame.</summary>
        public const ushort Invalid = 0x7FF4;
    }
}

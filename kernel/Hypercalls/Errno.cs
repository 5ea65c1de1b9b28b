namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// Error numbers a hypercall returns negated (xen/include/public/errno.h, which uses Linux's values).
    /// Code says <c>return -Errno.EINVAL;</c> as Xen's does, so a reader can match each refusal to Xen's.
    /// </summary>
    public static class Errno
    {
        public const int EPERM = 1;
        public const int ESRCH = 3;
        public const int E2BIG = 7;
        public const int ENOMEM = 12;
        public const int EACCES = 13;
        public const int EBUSY = 16;
        public const int EINVAL = 22;
        public const int ENOSYS = 38;
        public const int EOPNOTSUPP = 95;
    }

    /// <summary>Domain identifiers with a meaning of their own (xen/include/public/xen.h, DOMID_*).</summary>
    public static class DomainIds
    {
        /// <summary>Ids from here on are never ordinary domains.</summary>
        public const ushort FirstReserved = 0x7FF0;

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

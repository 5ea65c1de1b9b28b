using Keel.Kernel.Objects;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>Why a domid from a hypercall's arguments cannot be acted on.</summary>
    internal enum TargetRefusal { None, NotPermitted, NoSuchDomain }

    /// <summary>
    /// A domid a guest names as the domain to act on (Xen's rcu_lock_domain_by_any_id plus the privilege
    /// check of xsm_default_action): DOMID_SELF or its own id is the caller; another domain only for the
    /// control domain, and only while that domain is alive. Each hypercall family maps the refusal to its
    /// own error code (an errno, or a grant status).
    /// </summary>
    internal static class TargetDomain
    {
        internal static TargetRefusal Resolve(Vcpu vcpu, ushort alleged, out ushort domain)
        {
            domain = alleged == DomainIds.Self ? vcpu.Domain.Id : alleged;
            if (domain != vcpu.Domain.Id && !vcpu.Domain.Privileged) return TargetRefusal.NotPermitted;
            Domain d = DomainTable.Find(domain);
            return d != null && d.IsAlive ? TargetRefusal.None : TargetRefusal.NoSuchDomain;
        }

        /// <summary>The refusal as an errno: -EPERM, -ESRCH, or 0.</summary>
        internal static long ResolveErrno(Vcpu vcpu, ushort alleged, out ushort domain) => Resolve(vcpu, alleged, out domain) switch
        {
            TargetRefusal.NotPermitted => Errno.EPERM,
            TargetRefusal.NoSuchDomain => Errno.ESRCH,
            _ => 0,
        };
    }
}

namespace Keel.Kernel.Objects
{
    /// <summary>Every domain by id. Ids are never reused while the kernel runs, so a stale id names nobody.</summary>
    internal static class DomainTable
    {
        /// <summary>Xen's DOMID_FIRST_RESERVED is 0x7FF0; Keel keeps a smaller table.</summary>
        internal const int Capacity = 1024;

        private static readonly Domain[] s_domains = new Domain[Capacity];
        private static int s_next;

        internal static Domain Create(string name, bool privileged)
        {
            if (s_next >= Capacity) return null;
            var domain = new Domain((ushort)s_next, name, privileged);
            s_domains[s_next++] = domain;
            Events.MachineEvents.Channels.AddDomain(domain.Id);
            Grants.MachineGrants.Tables.AddDomain(domain.Id);
            return domain;
        }

        internal static Domain Find(ulong id) => id < (ulong)s_next ? s_domains[id] : null;

        /// <summary>One past the highest id handed out.</summary>
        internal static int Count => s_next;

        internal static int AliveCount
        {
            get
            {
                int alive = 0;
                for (int i = 0; i < s_next; i++) if (s_domains[i].IsAlive) alive++;
                return alive;
            }
        }
    }
}

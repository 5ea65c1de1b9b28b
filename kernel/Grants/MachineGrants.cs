using Keel.Kernel.Memory;
using Keel.Kernel.Paging;

namespace Keel.Kernel.Grants
{
    /// <summary>The machine's grant tables, over the one frame table and real memory (the direct map).</summary>
    internal static class MachineGrants
    {
        internal static GrantTables<DirectMap, Io.MachineIo.Permits> Tables { get; private set; }

        internal static void Initialise(int domains) => Tables = new GrantTables<DirectMap, Io.MachineIo.Permits>(domains, MachinePaging.Paging, default);
    }
}

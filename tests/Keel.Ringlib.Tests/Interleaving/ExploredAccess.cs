namespace Keel.Ringlib.Tests.Interleaving;

/// <summary>The rings' shared-index accesses, routed through the active <see cref="Explorer"/>: each load and
/// store is a scheduling point, and the full barrier drains the caller's store buffer.</summary>
public unsafe struct ExploredAccess : ISharedMemoryAccess
{
    public static uint Read(uint* index) => Explorer.Active.Read(index);

    public static void Write(uint* index, uint value) => Explorer.Active.Write(index, value);

    public static void FullBarrier() => Explorer.Active.FullBarrier();
}

/// <summary>The same, except that the full barrier does nothing: the rings compiled with this are the rings
/// with every xen_mb() deleted. Used to show that the explorer finds what those barriers prevent.</summary>
public unsafe struct ExploredAccessWithoutFullBarrier : ISharedMemoryAccess
{
    public static uint Read(uint* index) => Explorer.Active.Read(index);

    public static void Write(uint* index, uint value) => Explorer.Active.Write(index, value);

    public static void FullBarrier()
    {
    }
}

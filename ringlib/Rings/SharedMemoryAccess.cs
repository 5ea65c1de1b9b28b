using System.Runtime.CompilerServices;
using System.Threading;

namespace Keel.Ringlib;

/// <summary>
/// How a ring touches the four shared indices and orders its memory accesses. The rings take this as a
/// struct type parameter, so production code is compiled against <see cref="DirectAccess"/> with every call
/// inlined, while a test can substitute an implementation that stops at each shared access and lets a
/// deterministic scheduler interleave producer and consumer there. Ring entries themselves are read and
/// written directly; only the indices, which decide who may touch which entry and who must be woken, go
/// through here.
/// </summary>
public unsafe interface ISharedMemoryAccess
{
    /// <summary>Loads a shared index once, with acquire semantics: no later load or store of this thread
    /// (ring entries in particular) is performed before it. Plays the part of io/ring.h's xen_rmb() after
    /// reading a producer index.</summary>
    static abstract uint Read(uint* index);

    /// <summary>Stores a shared index once, with release semantics: every earlier load and store of this
    /// thread (ring entries in particular) is visible before it. Plays the part of io/ring.h's xen_wmb()
    /// before publishing a producer index.</summary>
    static abstract void Write(uint* index, uint value);

    /// <summary>A full fence (io/ring.h: xen_mb()): stores before it are visible to the peer before any load
    /// after it is performed. Release and acquire alone do not give this store-then-load order.</summary>
    static abstract void FullBarrier();
}

/// <summary>The production implementation: plain volatile loads and stores plus a full fence.</summary>
public unsafe struct DirectAccess : ISharedMemoryAccess
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Read(uint* index) => Volatile.Read(ref *index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(uint* index, uint value) => Volatile.Write(ref *index, value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FullBarrier() => Interlocked.MemoryBarrier();
}

using System;
using System.Runtime.InteropServices;

namespace Keel.Ringlib.Tests.Support;

/// <summary>A zeroed, page-aligned block of native memory standing in for a granted page.</summary>
public sealed unsafe class SharedRegion : IDisposable
{
    public SharedRegion(uint bytes)
    {
        Bytes = bytes;
        Pointer = (byte*)NativeMemory.AlignedAlloc(bytes, 4096);
        NativeMemory.Clear(Pointer, bytes);
    }

    public byte* Pointer { get; private set; }

    public uint Bytes { get; }

    public SharedRingHeader* Header => (SharedRingHeader*)Pointer;

    public void Dispose()
    {
        if (Pointer != null)
        {
            NativeMemory.AlignedFree(Pointer);
            Pointer = null;
        }
    }
}

/// <summary>
/// A region placed so that its last byte is the last byte before an inaccessible page, with another
/// inaccessible page before it: any read or write past either end faults at once and kills the test run,
/// so a test that finishes has shown that no access left the region.
/// </summary>
public sealed unsafe class GuardedRegion : IDisposable
{
    private const int ProtNone = 0;
    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int MapPrivate = 0x02;
    private const int MapAnonymous = 0x20;
    private const nuint Page = 4096;

    private readonly byte* _mapping;
    private readonly nuint _mappingBytes;

    public GuardedRegion(uint bytes)
    {
        nuint usable = ((nuint)bytes + Page - 1) / Page * Page;
        _mappingBytes = usable + 2 * Page;
        _mapping = (byte*)mmap(IntPtr.Zero, _mappingBytes, ProtNone, MapPrivate | MapAnonymous, -1, 0);
        if ((nint)_mapping == -1)
        {
            throw new InvalidOperationException("mmap failed: " + Marshal.GetLastPInvokeError());
        }

        if (mprotect((IntPtr)(_mapping + Page), usable, ProtRead | ProtWrite) != 0)
        {
            throw new InvalidOperationException("mprotect failed: " + Marshal.GetLastPInvokeError());
        }

        Bytes = bytes;
        Pointer = _mapping + Page + usable - bytes;
    }

    public byte* Pointer { get; }

    public uint Bytes { get; }

    public SharedRingHeader* Header => (SharedRingHeader*)Pointer;

    public void Dispose() => munmap((IntPtr)_mapping, _mappingBytes);

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr mmap(IntPtr address, nuint length, int protection, int flags, int fd, nint offset);

    [DllImport("libc", SetLastError = true)]
    private static extern int mprotect(IntPtr address, nuint length, int protection);

    [DllImport("libc", SetLastError = true)]
    private static extern int munmap(IntPtr address, nuint length);
}

/// <summary>A request used by the ring tests: a sequence number and a checksum of it.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct TestRequest
{
    public ulong Sequence;
    public ulong Checksum;

    public static TestRequest For(ulong sequence) => new TestRequest { Sequence = sequence, Checksum = Mix(sequence) };

    public readonly bool IsIntact => Checksum == Mix(Sequence);

    /// <summary>A bijective 64-bit mix (splitmix64's finaliser), so a torn or stale entry is noticed.</summary>
    public static ulong Mix(ulong x)
    {
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9UL;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebUL;
        x ^= x >> 31;
        return x;
    }
}

/// <summary>A response used by the ring tests: the sequence number of the request it answers.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct TestResponse
{
    public ulong Sequence;
}

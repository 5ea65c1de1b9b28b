using System.Runtime.CompilerServices;

namespace System.Threading
{
    /// <summary>
    /// Acquire reads and release writes. On x86-64 plain loads and stores already have these orderings;
    /// the volatile field tells the compiler not to cache, merge or reorder the access.
    /// </summary>
    public static class Volatile
    {

        private struct VolatileByte { public volatile byte Value; }
        private struct VolatileInt32 { public volatile int Value; }
        private struct VolatileUInt32 { public volatile uint Value; }
        private struct VolatileUInt16 { public volatile ushort Value; }
        private struct VolatileIntPtr { public volatile nint Value; }
        private struct VolatileUIntPtr { public volatile nuint Value; }
        private struct VolatileObject { public volatile object Value; }

        // 64-bit fields cannot be declared volatile in C#; on x86-64 an aligned 8-byte access is atomic,
        // and reading through the pointer-sized volatile view gives the same ordering guarantee.
        public static bool Read(ref readonly bool location) => Unsafe.As<bool, VolatileByte>(ref Unsafe.AsRef(in location)).Value != 0;
        public static byte Read(ref readonly byte location) => Unsafe.As<byte, VolatileByte>(ref Unsafe.AsRef(in location)).Value;
        public static ushort Read(ref readonly ushort location) => Unsafe.As<ushort, VolatileUInt16>(ref Unsafe.AsRef(in location)).Value;
        public static int Read(ref readonly int location) => Unsafe.As<int, VolatileInt32>(ref Unsafe.AsRef(in location)).Value;
        public static uint Read(ref readonly uint location) => Unsafe.As<uint, VolatileUInt32>(ref Unsafe.AsRef(in location)).Value;
        public static long Read(ref readonly long location) => (long)Unsafe.As<long, VolatileIntPtr>(ref Unsafe.AsRef(in location)).Value;
        public static ulong Read(ref readonly ulong location) => (ulong)Unsafe.As<ulong, VolatileUIntPtr>(ref Unsafe.AsRef(in location)).Value;
        public static nint Read(ref readonly nint location) => Unsafe.As<nint, VolatileIntPtr>(ref Unsafe.AsRef(in location)).Value;
        public static nuint Read(ref readonly nuint location) => Unsafe.As<nuint, VolatileUIntPtr>(ref Unsafe.AsRef(in location)).Value;
        public static T Read<T>(ref readonly T location) where T : class =>
            Unsafe.As<T>(Unsafe.As<T, VolatileObject>(ref Unsafe.AsRef(in location)).Value);

        public static void Write(ref bool location, bool value) => Unsafe.As<bool, VolatileByte>(ref location).Value = value ? (byte)1 : (byte)0;
        public static void Write(ref byte location, byte value) => Unsafe.As<byte, VolatileByte>(ref location).Value = value;
        public static void Write(ref ushort location, ushort value) => Unsafe.As<ushort, VolatileUInt16>(ref location).Value = value;
        public static void Write(ref int location, int value) => Unsafe.As<int, VolatileInt32>(ref location).Value = value;
        public static void Write(ref uint location, uint value) => Unsafe.As<uint, VolatileUInt32>(ref location).Value = value;
        public static void Write(ref long location, long value) => Unsafe.As<long, VolatileIntPtr>(ref location).Value = (nint)value;
        public static void Write(ref ulong location, ulong value) => Unsafe.As<ulong, VolatileUIntPtr>(ref location).Value = (nuint)value;
        public static void Write(ref nint location, nint value) => Unsafe.As<nint, VolatileIntPtr>(ref location).Value = value;
        public static void Write(ref nuint location, nuint value) => Unsafe.As<nuint, VolatileUIntPtr>(ref location).Value = value;
        public static void Write<T>(ref T location, T value) where T : class =>
            Unsafe.As<T, VolatileObject>(ref location).Value = value;
    }

    /// <summary>
    /// Atomic read-modify-write operations. Each is a JIT intrinsic (a LOCK-prefixed instruction on
    /// x86-64); the self-call in each body is replaced by that instruction and never executes.
    /// </summary>
    public static class Interlocked
    {
        [Intrinsic] public static int CompareExchange(ref int location1, int value, int comparand) => CompareExchange(ref location1, value, comparand);
        [Intrinsic] public static uint CompareExchange(ref uint location1, uint value, uint comparand) => (uint)CompareExchange(ref Unsafe.As<uint, int>(ref location1), (int)value, (int)comparand);
        [Intrinsic] public static long CompareExchange(ref long location1, long value, long comparand) => CompareExchange(ref location1, value, comparand);
        [Intrinsic] public static ulong CompareExchange(ref ulong location1, ulong value, ulong comparand) => (ulong)CompareExchange(ref Unsafe.As<ulong, long>(ref location1), (long)value, (long)comparand);
        [Intrinsic] public static int Exchange(ref int location1, int value) => Exchange(ref location1, value);
        [Intrinsic] public static long Exchange(ref long location1, long value) => Exchange(ref location1, value);
        [Intrinsic] public static int ExchangeAdd(ref int location1, int value) => ExchangeAdd(ref location1, value);
        [Intrinsic] public static long ExchangeAdd(ref long location1, long value) => ExchangeAdd(ref location1, value);
        public static uint Exchange(ref uint location1, uint value) => (uint)Exchange(ref Unsafe.As<uint, int>(ref location1), (int)value);
        public static ulong Exchange(ref ulong location1, ulong value) => (ulong)Exchange(ref Unsafe.As<ulong, long>(ref location1), (long)value);
        public static int Add(ref int location1, int value) => ExchangeAdd(ref location1, value) + value;
        public static long Add(ref long location1, long value) => ExchangeAdd(ref location1, value) + value;
        public static uint Add(ref uint location1, uint value) => (uint)Add(ref Unsafe.As<uint, int>(ref location1), (int)value);
        public static ulong Add(ref ulong location1, ulong value) => (ulong)Add(ref Unsafe.As<ulong, long>(ref location1), (long)value);
        public static int Increment(ref int location) => Add(ref location, 1);
        public static long Increment(ref long location) => Add(ref location, 1);
        public static int Decrement(ref int location) => Add(ref location, -1);
        public static long Decrement(ref long location) => Add(ref location, -1);
        public static uint Increment(ref uint location) => Add(ref location, 1);
        public static ulong Increment(ref ulong location) => Add(ref location, 1);
        [Intrinsic] public static void MemoryBarrier() => MemoryBarrier();
    }
}

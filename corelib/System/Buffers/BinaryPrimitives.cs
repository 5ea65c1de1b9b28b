using System.Runtime.CompilerServices;

namespace System.Buffers.Binary
{
    /// <summary>
    /// Little-endian reads and writes of integers at any alignment. x86-64 is little-endian, so these are
    /// plain unaligned accesses after the bounds check.
    /// </summary>
    public static class BinaryPrimitives
    {
        public static ushort ReadUInt16LittleEndian(ReadOnlySpan<byte> source) => Read<ushort>(source);
        public static uint ReadUInt32LittleEndian(ReadOnlySpan<byte> source) => Read<uint>(source);
        public static ulong ReadUInt64LittleEndian(ReadOnlySpan<byte> source) => Read<ulong>(source);
        public static short ReadInt16LittleEndian(ReadOnlySpan<byte> source) => Read<short>(source);
        public static int ReadInt32LittleEndian(ReadOnlySpan<byte> source) => Read<int>(source);
        public static long ReadInt64LittleEndian(ReadOnlySpan<byte> source) => Read<long>(source);
        public static ushort ReadUInt16BigEndian(ReadOnlySpan<byte> source) => ReverseEndianness(Read<ushort>(source));
        public static uint ReadUInt32BigEndian(ReadOnlySpan<byte> source) => ReverseEndianness(Read<uint>(source));

        public static void WriteUInt16LittleEndian(Span<byte> destination, ushort value) => Write(destination, value);
        public static void WriteUInt32LittleEndian(Span<byte> destination, uint value) => Write(destination, value);
        public static void WriteUInt64LittleEndian(Span<byte> destination, ulong value) => Write(destination, value);
        public static void WriteInt16LittleEndian(Span<byte> destination, short value) => Write(destination, value);
        public static void WriteInt32LittleEndian(Span<byte> destination, int value) => Write(destination, value);
        public static void WriteInt64LittleEndian(Span<byte> destination, long value) => Write(destination, value);
        public static void WriteUInt16BigEndian(Span<byte> destination, ushort value) => Write(destination, ReverseEndianness(value));
        public static void WriteUInt32BigEndian(Span<byte> destination, uint value) => Write(destination, ReverseEndianness(value));

        public static ushort ReverseEndianness(ushort value) => (ushort)((value >> 8) | (value << 8));

        public static uint ReverseEndianness(uint value) =>
            (value >> 24) | ((value >> 8) & 0xFF00u) | ((value << 8) & 0xFF0000u) | (value << 24);

        public static ulong ReverseEndianness(ulong value) =>
            ((ulong)ReverseEndianness((uint)value) << 32) | ReverseEndianness((uint)(value >> 32));

        private static T Read<T>(ReadOnlySpan<byte> source) where T : unmanaged
        {
            if (source.Length < Unsafe.SizeOf<T>()) ThrowHelper.ThrowArgumentOutOfRangeException("source");
            return Unsafe.ReadUnaligned<T>(ref source._reference);
        }

        private static void Write<T>(Span<byte> destination, T value) where T : unmanaged
        {
            if (destination.Length < Unsafe.SizeOf<T>()) ThrowHelper.ThrowArgumentOutOfRangeException("destination");
            Unsafe.WriteUnaligned(ref destination._reference, value);
        }
    }
}

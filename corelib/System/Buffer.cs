using System.Runtime.CompilerServices;

namespace System
{
    public static class Buffer
    {
        /// <summary>Copies elements with memmove semantics: overlapping ranges are handled.</summary>
        internal static void Memmove<T>(ref T destination, ref T source, nuint elementCount)
        {
            SpanHelpers.Memmove(
                ref Unsafe.As<T, byte>(ref destination),
                ref Unsafe.As<T, byte>(ref source),
                elementCount * (nuint)Unsafe.SizeOf<T>());
        }

        // Copies memory that may hold object references. With no collector there is no write barrier to
        // run, so this is a plain memmove.
        internal static void BulkMoveWithWriteBarrier(ref byte destination, ref byte source, nuint byteCount) =>
            SpanHelpers.Memmove(ref destination, ref source, byteCount);

        public static unsafe void MemoryCopy(void* source, void* destination, long destinationSizeInBytes, long sourceBytesToCopy)
        {
            if (sourceBytesToCopy > destinationSizeInBytes) ThrowHelper.ThrowArgumentOutOfRangeException("sourceBytesToCopy");
            SpanHelpers.Memmove(ref *(byte*)destination, ref *(byte*)source, (nuint)sourceBytesToCopy);
        }
    }

    /// <summary>Block memory primitives; ILC also routes the JIT's block-copy and block-clear helpers here.</summary>
    internal static class SpanHelpers
    {
        internal static unsafe void Memmove(ref byte destination, ref byte source, nuint length)
        {
            // A forward copy is safe unless the destination starts inside the source range; then copy
            // backwards so no byte is overwritten before it is read.
            byte* d = (byte*)Unsafe.AsPointer(ref destination);
            byte* s = (byte*)Unsafe.AsPointer(ref source);
            if (d == s || length == 0) return;
            // 32 bytes a turn, all four words read before any is written: a quarter of the loop overhead of
            // word by word (struct copies of ring slots and register frames go through here), and the
            // overlap rule above still holds for a whole turn.
            if (d < s || d >= s + length)
            {
                nuint i = 0;
                for (; i + 32 <= length; i += 32)
                {
                    ulong w0 = *(ulong*)(s + i), w1 = *(ulong*)(s + i + 8), w2 = *(ulong*)(s + i + 16), w3 = *(ulong*)(s + i + 24);
                    *(ulong*)(d + i) = w0;
                    *(ulong*)(d + i + 8) = w1;
                    *(ulong*)(d + i + 16) = w2;
                    *(ulong*)(d + i + 24) = w3;
                }
                for (; i + 8 <= length; i += 8) *(ulong*)(d + i) = *(ulong*)(s + i);
                for (; i < length; i++) d[i] = s[i];
            }
            else
            {
                nuint i = length;
                for (; i >= 32; i -= 32)
                {
                    ulong w0 = *(ulong*)(s + i - 8), w1 = *(ulong*)(s + i - 16), w2 = *(ulong*)(s + i - 24), w3 = *(ulong*)(s + i - 32);
                    *(ulong*)(d + i - 8) = w0;
                    *(ulong*)(d + i - 16) = w1;
                    *(ulong*)(d + i - 24) = w2;
                    *(ulong*)(d + i - 32) = w3;
                }
                for (; i >= 8; i -= 8) *(ulong*)(d + i - 8) = *(ulong*)(s + i - 8);
                for (; i > 0; i--) d[i - 1] = s[i - 1];
            }
        }

        internal static unsafe void ClearWithoutReferences(ref byte destination, nuint length)
        {
            Fill(ref destination, length, 0);
        }

        internal static unsafe void Fill(ref byte destination, nuint length, byte value)
        {
            byte* d = (byte*)Unsafe.AsPointer(ref destination);
            ulong pattern = value * 0x0101010101010101UL;
            nuint i = 0;
            for (; i + 32 <= length; i += 32)
            {
                *(ulong*)(d + i) = pattern;
                *(ulong*)(d + i + 8) = pattern;
                *(ulong*)(d + i + 16) = pattern;
                *(ulong*)(d + i + 24) = pattern;
            }
            for (; i + 8 <= length; i += 8) *(ulong*)(d + i) = pattern;
            for (; i < length; i++) d[i] = value;
        }

        internal static unsafe void ClearWithReferences(ref nint destination, nuint pointerCount)
        {
            Fill(ref Unsafe.As<nint, byte>(ref destination), pointerCount * (nuint)sizeof(nint), 0);
        }
    }
}

using System;

namespace Keel.Kernel.Text
{
    /// <summary>
    /// Integer formatting into caller-provided buffers: the kernel prints numbers in fault handlers and
    /// early boot, where allocating is not allowed or not yet possible.
    /// </summary>
    public static class NumberFormat
    {
        /// <summary>Writes value in decimal; returns the number of characters written.</summary>
        public static int Decimal(ulong value, Span<byte> destination)
        {
            Span<byte> reversed = stackalloc byte[20];
            int count = 0;
            do
            {
                reversed[count++] = (byte)('0' + (int)(value % 10));
                value /= 10;
            }
            while (value != 0);
            for (int i = 0; i < count; i++) destination[i] = reversed[count - 1 - i];
            return count;
        }

        /// <summary>Writes value in lower-case hexadecimal with exactly <paramref name="digits"/> digits (1-16).</summary>
        public static int Hex(ulong value, int digits, Span<byte> destination)
        {
            for (int i = digits - 1; i >= 0; i--)
            {
                int nibble = (int)(value & 0xF);
                destination[i] = (byte)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);
                value >>= 4;
            }
            return digits;
        }

        /// <summary>Writes value in decimal, left-padded with zeros to at least <paramref name="width"/> digits.</summary>
        public static int PaddedDecimal(ulong value, int width, Span<byte> destination)
        {
            Span<byte> digits = stackalloc byte[20];
            int count = Decimal(value, digits);
            int padding = width > count ? width - count : 0;
            for (int i = 0; i < padding; i++) destination[i] = (byte)'0';
            digits.Slice(0, count).CopyTo(destination.Slice(padding));
            return padding + count;
        }
    }
}

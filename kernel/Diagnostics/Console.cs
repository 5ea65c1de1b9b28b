using System;
using Keel.Kernel.Devices;
using Keel.Kernel.Text;

namespace Keel.Kernel.Diagnostics
{
    /// <summary>
    /// The kernel console: text to COM1, with "\n" sent as CR LF for terminals, and to the screen when the
    /// loader left a text display. Every method is allocation-free so fault handlers can use it.
    /// </summary>
    internal static class Console
    {
        internal static void Write(string text)
        {
            for (int i = 0; i < text.Length; i++) Put((byte)text[i]);
        }

        internal static void Write(ReadOnlySpan<byte> text)
        {
            for (int i = 0; i < text.Length; i++) Put(text[i]);
        }

        internal static void WriteLine(string text)
        {
            Write(text);
            Put((byte)'\n');
        }

        internal static void WriteLine() => Put((byte)'\n');

        internal static void Write(char c) => Put((byte)c);

        internal static void Decimal(ulong value)
        {
            Span<byte> buffer = stackalloc byte[20];
            Write(buffer.Slice(0, NumberFormat.Decimal(value, buffer)));
        }

        internal static void SignedDecimal(long value)
        {
            if (value < 0)
            {
                Put((byte)'-');
                Decimal((ulong)(-(value + 1)) + 1);
            }
            else
            {
                Decimal((ulong)value);
            }
        }

        internal static void PaddedDecimal(ulong value, int width)
        {
            Span<byte> buffer = stackalloc byte[24];
            Write(buffer.Slice(0, NumberFormat.PaddedDecimal(value, width, buffer)));
        }

        /// <summary>Writes "0x" and 16 hex digits.</summary>
        internal static void Hex(ulong value) => Hex(value, 16);

        internal static void Hex(ulong value, int digits)
        {
            Span<byte> buffer = stackalloc byte[18];
            buffer[0] = (byte)'0';
            buffer[1] = (byte)'x';
            Write(buffer.Slice(0, 2 + NumberFormat.Hex(value, digits, buffer.Slice(2))));
        }

        internal static void HexByte(byte value)
        {
            Span<byte> buffer = stackalloc byte[2];
            NumberFormat.Hex(value, 2, buffer);
            Write(buffer);
        }

        private static void Put(byte c)
        {
            if (c == (byte)'\n') Serial.Write((byte)'\r');
            Serial.Write(c);
            Screen.Put((char)c);
        }
    }
}

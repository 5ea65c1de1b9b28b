using System;

namespace Keel.Runtime
{
    /// <summary>Text out through the kernel's console (console_io write), which prefixes the domain's name.</summary>
    public static unsafe class DomainConsole
    {
        public static void Write(string text)
        {
            byte* buffer = stackalloc byte[128];
            int used = 0;
            for (int i = 0; i < text.Length; i++)
            {
                buffer[used++] = text[i] < 0x80 ? (byte)text[i] : (byte)'?';
                if (used == 128)
                {
                    Hypercall.ConsoleWrite(buffer, used);
                    used = 0;
                }
            }
            if (used > 0) Hypercall.ConsoleWrite(buffer, used);
        }

        public static void WriteLine(string text) => Write(text + "\n");

        /// <summary>A NUL-terminated ASCII string of at most max bytes (start_info and xen_version answers).</summary>
        public static string Ascii(byte* text, int max)
        {
            int length = 0;
            while (length < max && text[length] != 0) length++;
            char* chars = stackalloc char[length + 1];
            for (int i = 0; i < length; i++) chars[i] = (char)text[i];
            return new string(chars, 0, length);
        }

        /// <summary>The low count hex digits of value, without a prefix (count at most 16): "1af4", "04".</summary>
        public static string Hex(ulong value, int count)
        {
            Span<char> digits = stackalloc char[16];
            for (int i = 0; i < count; i++) digits[count - 1 - i] = "0123456789abcdef"[(int)((value >> (4 * i)) & 15)];
            return new string(digits.Slice(0, count));
        }

        public static string Hex(ulong value)
        {
            Span<char> digits = stackalloc char[18];
            digits[0] = '0';
            digits[1] = 'x';
            for (int i = 0; i < 16; i++) digits[17 - i] = "0123456789abcdef"[(int)((value >> (4 * i)) & 15)];
            return new string(digits);
        }

        /// <summary>The number text holds: 1 to 19 decimal digits and nothing else (below 10^19, so it cannot
        /// overflow); false for anything else, null included.</summary>
        public static bool TryParseDecimal(string text, out ulong value)
        {
            value = 0;
            if (text == null || text.Length == 0 || text.Length > 19) return false;
            for (int i = 0; i < text.Length; i++)
            {
                if (text[i] < '0' || text[i] > '9') { value = 0; return false; }
                value = value * 10 + (ulong)(text[i] - '0');
            }
            return true;
        }

        public static string Decimal(long value)
        {
            if (value == long.MinValue) return "-9223372036854775808";
            Span<char> digits = stackalloc char[20];
            bool negative = value < 0;
            ulong rest = (ulong)(negative ? -value : value);
            int at = digits.Length;
            do
            {
                digits[--at] = (char)('0' + (int)(rest % 10));
                rest /= 10;
            } while (rest != 0);
            if (negative) digits[--at] = '-';
            return new string(digits.Slice(at));
        }
    }
}

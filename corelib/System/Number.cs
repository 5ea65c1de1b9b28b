using System.Runtime.CompilerServices;

namespace System
{
    /// <summary>Integer-to-text conversion for ToString (decimal, invariant culture).</summary>
    internal static class Number
    {
        internal static string FormatInt64(long value)
        {
            if (value >= 0) return FormatUInt64((ulong)value);
            string digits = FormatUInt64((ulong)(-(value + 1)) + 1);
            return string.Concat("-", digits);
        }

        internal static unsafe string FormatUInt64(ulong value)
        {
            char* buffer = stackalloc char[20];
            int start = 20;
            do
            {
                buffer[--start] = (char)('0' + (int)(value % 10));
                value /= 10;
            }
            while (value != 0);
            return new string(buffer, start, 20 - start);
        }
    }

    public static class Environment
    {
        /// <summary>Reports the message through the image's fatal-error handler and stops; never returns.</summary>
        public static void FailFast(string message) => Internal.Runtime.Fatal.Stop(message, null);

        public static string NewLine => "\n";
    }
}

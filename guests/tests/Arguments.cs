namespace Keel.Guests.Tests
{
    /// <summary>The numbers in a test's command-line argument: decimal, separated by ':' ("3000:6000:10").</summary>
    internal static class Arguments
    {
        /// <summary>Fills into from the left; returns how many numbers the text holds, or -1 if it holds anything else or more than fit.</summary>
        internal static int Numbers(string text, ulong[] into)
        {
            int count = 1;
            into[0] = 0;
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (c == ':')
                {
                    if (count == into.Length) return -1;
                    into[count++] = 0;
                }
                else if (c >= '0' && c <= '9') into[count - 1] = into[count - 1] * 10 + (ulong)(c - '0');
                else return -1;
            }
            return count;
        }

        /// <summary>The single number the text holds (0 if it is not one).</summary>
        internal static ulong Number(string text)
        {
            ulong[] value = new ulong[1];
            return Numbers(text, value) == 1 ? value[0] : 0;
        }
    }
}

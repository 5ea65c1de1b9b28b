using System;
using Keel.Kernel.Objects;

namespace Keel.Kernel.Diagnostics
{
    /// <summary>
    /// Guests' output on the kernel console, a line at a time with the writer's name in front ("(name) ...")
    /// so lines of different domains never interleave mid-line. A line is held back until its newline or
    /// until it fills the buffer; control characters other than tab are shown as '?', so a guest cannot
    /// move the cursor or clear the terminal under another domain's output.
    /// </summary>
    internal static class GuestConsole
    {
        internal static void Write(Domain domain, ReadOnlySpan<byte> text)
        {
            for (int i = 0; i < text.Length; i++)
            {
                byte c = text[i];
                if (c == (byte)'\r') continue;
                if (c == (byte)'\n' || domain.ConsoleLineLength == domain.ConsoleLine.Length)
                {
                    Flush(domain);
                    if (c == (byte)'\n') continue;
                }
                domain.ConsoleLine[domain.ConsoleLineLength++] = c == (byte)'\t' || (c >= 0x20 && c < 0x7F) ? c : (byte)'?';
            }
        }

        /// <summary>Prints what is held back, if anything (also when the domain ends mid-line).</summary>
        internal static void Flush(Domain domain)
        {
            if (domain.ConsoleLineLength == 0) return;
            Console.Write('(');
            Console.Write(domain.Name);
            Console.Write(") ");
            Console.Write(new ReadOnlySpan<byte>(domain.ConsoleLine, 0, domain.ConsoleLineLength));
            Console.WriteLine();
            domain.ConsoleLineLength = 0;
        }
    }
}

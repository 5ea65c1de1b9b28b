using System;

namespace Keel.Kernel.Diagnostics
{
    /// <summary>The kernel's own failures on purpose (the keel.fault option), so tests can see each report.</summary>
    internal static unsafe class DeliberateFaults
    {
        /// <summary>
        /// keel.fault=page writes to an unmapped address; keel.fault=throw throws an exception nothing
        /// catches; keel.fault=stack recurses into the stack's guard page, which the CPU can only report as
        /// a double fault on the emergency stack. Each proves a failure produces a readable report and a
        /// failure exit status.
        /// </summary>
        internal static void Raise(string kind)
        {
            if (kind == "page")
            {
                Console.WriteLine("keel: keel.fault=page: writing to unmapped address 0xdeadb000");
                *(ulong*)0xDEADB000 = 1;
            }
            else if (kind == "throw")
            {
                Console.WriteLine("keel: keel.fault=throw: throwing an exception nothing catches");
                throw new InvalidOperationException("deliberate exception from keel.fault=throw");
            }
            else if (kind == "stack")
            {
                Console.WriteLine("keel: keel.fault=stack: recursing until the stack overflows");
                Console.Decimal(Recurse(1));
            }
            else
            {
                Console.Write("keel: unknown keel.fault value \"");
                Console.Write(kind);
                Console.WriteLine("\" (known: page, throw, stack)");
            }
        }

        // Each frame holds a 256-byte buffer, so the 64 KiB stack runs out after a few hundred calls.
        private static ulong Recurse(ulong depth)
        {
            byte* frame = stackalloc byte[256];
            frame[depth % 256] = (byte)depth;
            return Recurse(depth + 1) + frame[(depth + 1) % 256];
        }
    }
}

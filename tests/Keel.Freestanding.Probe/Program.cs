using System;
using System.Runtime;
using Internal.Runtime;
using Internal.Runtime.CompilerHelpers;

namespace Keel.Freestanding.Probe
{
    /// <summary>
    /// Runs each check and prints "ok NAME" or "FAIL NAME"; the exit status is the number of failures.
    /// A check that breaks the runtime itself ends in the fatal sink (exit status 70) instead.
    /// </summary>
    internal static unsafe class Program
    {
        private static int s_failures;

        [RuntimeExport("keel_main")]
        private static int Main(nint* modulesStart, nint* modulesEnd, byte* heapStart, byte* heapEnd)
        {
            Heap.Donate(heapStart, (nuint)(heapEnd - heapStart));
            StartupCodeHelpers.InitializeModules(modulesStart, modulesEnd);

            CoreLibraryChecks.Run();
            RingChecks.Run();
            ManifestChecks.Run();

            Host.Print(s_failures == 0 ? "all checks passed" : "some checks failed");
            return s_failures;
        }

        internal static void Check(string name, bool passed)
        {
            Host.Print((passed ? "ok " : "FAIL ") + name);
            if (!passed) s_failures++;
        }
    }
}

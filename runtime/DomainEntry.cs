using System.Runtime;
using System.Runtime.CompilerServices;
using Internal.Runtime;
using Internal.Runtime.CompilerHelpers;
using Keel.Ringlib.Xen;

namespace Keel.Runtime
{
    /// <summary>
    /// A domain's start: the image's _start stub calls keel_domain_entry with start_info and the image's
    /// module list and heap; the runtime brings up the heap and statics, then runs the domain's own
    /// keel_guest_main. Returning from it powers the domain off.
    /// </summary>
    public static unsafe class DomainEntry
    {
        /// <summary>start_info, as the domain builder left it (mapped read-write in the initial range).</summary>
        public static StartInfo* StartInfo { get; private set; }

        [RuntimeImport("keel_image_base"), MethodImpl(MethodImplOptions.InternalCall)]
        private static extern ulong ImageBaseAddress();

        /// <summary>The domain's VIRT_BASE: pfn p is at ImageBase + p * 4096 in the initial mapping.</summary>
        public static ulong ImageBase => ImageBaseAddress();

        [RuntimeImport("keel_guest_main"), MethodImpl(MethodImplOptions.InternalCall)]
        private static extern void GuestMain();

        [RuntimeExport("keel_domain_entry")]
        private static void Entry(StartInfo* startInfo, nint* modulesStart, nint* modulesEnd, byte* heapStart, byte* heapEnd)
        {
            Heap.Donate(heapStart, (nuint)(heapEnd - heapStart));
            StartupCodeHelpers.InitializeModules(modulesStart, modulesEnd);
            StartInfo = startInfo;
            GuestMain();
            Hypercall.Shutdown(ShutdownReason.Poweroff);
            while (true) Hypercall.Block();
        }

        /// <summary>The domain's command line from start_info (ASCII, NUL-terminated).</summary>
        public static string CommandLine => DomainConsole.Ascii(StartInfo->CmdLine, Ringlib.Xen.StartInfo.CommandLineBytes);

        /// <summary>
        /// What the runtime reports when managed code cannot go on (a throw, with no unwinder): the message on
        /// the console, then the domain shuts down with reason crash. Never returns.
        /// </summary>
        [RuntimeExport("keel_fatal")]
        private static void Fatal(FatalReport* report)
        {
            // Printing the message allocates; if that fails too (the heap is what ran out) the second report
            // must not start a third: the domain ends at once.
            if (!s_failing)
            {
                s_failing = true;
                DomainConsole.Write("fatal: ");
                DomainConsole.WriteLine(new string(report->Message, 0, report->MessageLength));
            }
            Hypercall.Shutdown(ShutdownReason.Crash);
            while (true) Hypercall.Block();
        }

        private static bool s_failing;
    }
}

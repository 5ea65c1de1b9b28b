using System;
using System.Runtime;
using System.Runtime.CompilerServices;
using Internal.Runtime;

namespace Keel.Freestanding.Probe
{
    /// <summary>The probe's link to the Linux host: the two system calls the image tool's stubs provide.</summary>
    internal static unsafe class Host
    {
        [RuntimeImport("linux_write"), MethodImpl(MethodImplOptions.InternalCall)]
        private static extern long Write(int fd, byte* buffer, nint length);

        [RuntimeImport("linux_exit"), MethodImpl(MethodImplOptions.InternalCall)]
        internal static extern void Exit(int status);

        internal static void Print(string text)
        {
            // ASCII only: the probe's messages are its own.
            byte* buffer = stackalloc byte[text.Length + 1];
            for (int i = 0; i < text.Length; i++) buffer[i] = (byte)text[i];
            buffer[text.Length] = (byte)'\n';
            Write(1, buffer, text.Length + 1);
        }

        /// <summary>The fatal-error sink every image provides: print what the runtime reports, exit with 70.</summary>
        [RuntimeExport("keel_fatal")]
        private static void Fatal(FatalReport* report)
        {
            Print("fatal: " + new string(report->Message, 0, report->MessageLength));
            Exit(70);
        }
    }
}

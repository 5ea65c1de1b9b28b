using System;
using System.Runtime;

namespace Internal.Runtime
{
    /// <summary>
    /// What an image is told when managed code cannot go on: a throw (there is no unwinder yet), a failed
    /// runtime check, or exhausted memory. The image formats and prints it (it knows its console and its
    /// symbols) and stops; the handler never returns.
    /// </summary>
    public unsafe struct FatalReport
    {
        /// <summary>UTF-16 text of the message, or null.</summary>
        public char* Message;
        public int MessageLength;
        /// <summary>The exception's MethodTable, or null when no exception object is involved.</summary>
        public void* ExceptionType;
        /// <summary>Where the throw happened (the return address of the throw helper), or 0.</summary>
        public ulong ThrowSite;
        /// <summary>The stack pointer at the throw, or 0.</summary>
        public ulong StackPointer;
    }

    public static unsafe class Fatal
    {
        [RuntimeImport("keel_fatal")]
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.InternalCall)]
        private static extern void ReportToImage(FatalReport* report);

        /// <summary>Reports and stops. Never returns.</summary>
        public static void Stop(string message, Exception exception, ulong throwSite = 0, ulong stackPointer = 0)
        {
            FatalReport report = default;
            report.ExceptionType = exception is null ? null : exception.m_pEEType;
            report.ThrowSite = throwSite;
            report.StackPointer = stackPointer;
            fixed (char* text = message)
            {
                report.Message = text;
                report.MessageLength = message is null ? 0 : message.Length;
                ReportToImage(&report);
            }
            while (true) { }
        }

        /// <summary>
        /// The throw path. An image's RhpThrowEx stub captures the throwing site and stack pointer and jumps
        /// here; with no unwinder, no handler can run, so the exception is reported as unhandled.
        /// </summary>
        [RuntimeExport("keel_throw")]
        private static void Throw(object exception, ulong throwSite, ulong stackPointer)
        {
            Exception ex = exception as Exception;
            Stop(ex is null ? "A non-exception object was thrown." : ex.Message, ex, throwSite, stackPointer);
        }

        [RuntimeExport("RhpFallbackFailFast")]
        private static void FallbackFailFast() => Stop("The runtime failed fast.", null);
    }
}

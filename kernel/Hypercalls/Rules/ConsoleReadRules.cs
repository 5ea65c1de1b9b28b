using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>The checks of CONSOLEIO_read (xen/drivers/char/console.c, do_console_io) as pure functions.</summary>
    public static class ConsoleReadRules
    {
        /// <summary>
        /// 0 and the number of bytes the caller may be given, or a negative errno. Only the control domain reads
        /// the serial input: Xen's default XSM policy (xsm/dummy.h, xsm_console_io) lets an unprivileged domain
        /// at most write, so it gets -EPERM. The count is an unsigned int in the ABI, but the result is either
        /// a count or an errno, so Xen refuses a count that would read as negative with -E2BIG.
        /// </summary>
        public static long Check(bool privileged, ulong count, out int length)
        {
            length = 0;
            if (!privileged) return Errno.EPERM;
            int asInt = (int)(uint)count;
            if (asInt < 0) return Errno.E2BIG;
            length = asInt;
            return 0;
        }
    }
}

using System.Runtime;
using System.Runtime.CompilerServices;
using Keel.Ringlib.Xen;

namespace Keel.Runtime
{
    /// <summary>
    /// Hypercalls through the page the kernel filled (the domain's HYPERCALL_PAGE note), with Xen's numbers
    /// and arguments. Results are Xen's: 0 or a value on success, a negative errno on failure.
    /// </summary>
    public static unsafe class Hypercall
    {
        [RuntimeImport("keel_hypercall"), MethodImpl(MethodImplOptions.InternalCall)]
        private static extern long Call(ulong number, ulong a1, ulong a2, ulong a3, ulong a4, ulong a5);

        /// <summary>Any hypercall, arguments as raw register values (for tests that must send anything at all).</summary>
        public static long Raw(ulong number, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0) => Call(number, a1, a2, a3, a4, a5);

        public static long ConsoleWrite(byte* text, int length) =>
            Call((ulong)HypercallNumber.ConsoleIo, (ulong)ConsoleCommand.Write, (ulong)length, (ulong)text, 0, 0);

        /// <summary>CONSOLEIO_read: up to length bytes of serial input into text; how many (0 if none waits), or a negative errno (-EPERM outside the control domain).</summary>
        public static long ConsoleRead(byte* text, int length) =>
            Call((ulong)HypercallNumber.ConsoleIo, (ulong)ConsoleCommand.Read, (ulong)length, (ulong)text, 0, 0);

        /// <summary>Keel's console_io 0x4B00 (control domain only): text written as domain <paramref name="domain"/>'s console output.</summary>
        public static long ConsoleWriteFor(ushort domain, byte* text, int length) =>
            Call((ulong)HypercallNumber.ConsoleIo, 0x4B00, (ulong)length, (ulong)text, domain, 0);

        public static long XenVersion(VersionCommand command, void* buffer) =>
            Call((ulong)HypercallNumber.XenVersion, (ulong)command, (ulong)buffer, 0, 0, 0);

        public static long MemoryOp(ulong command, void* argument) => Call((ulong)HypercallNumber.MemoryOp, command, (ulong)argument, 0, 0, 0);

        public static long Multicall(MulticallEntry* list, ulong count) => Call((ulong)HypercallNumber.Multicall, (ulong)list, count, 0, 0, 0);

        public static long VmAssist(uint command, uint type) => Call((ulong)HypercallNumber.VmAssist, command, type, 0, 0, 0);

        public static long SetSegmentBase(SegmentBaseRegister which, ulong value) => Call((ulong)HypercallNumber.SetSegmentBase, (ulong)which, value, 0, 0, 0);

        public static long Yield() => Call((ulong)HypercallNumber.SchedOp, (ulong)SchedCommand.Yield, 0, 0, 0, 0);

        public static long Block() => Call((ulong)HypercallNumber.SchedOp, (ulong)SchedCommand.Block, 0, 0, 0, 0);

        /// <summary>sched_op shutdown: does not return when it succeeds.</summary>
        public static long Shutdown(ShutdownReason reason)
        {
            uint value = (uint)reason;
            return Call((ulong)HypercallNumber.SchedOp, (ulong)SchedCommand.Shutdown, (ulong)&value, 0, 0, 0);
        }
    }
}

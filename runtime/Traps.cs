using System;
using System.Runtime;
using System.Runtime.CompilerServices;
using Keel.Ringlib.Xen;

namespace Keel.Runtime
{
    /// <summary>
    /// What a trap entry stub saved (image/DomainStubs.cs): the general registers, the vector, the error
    /// code (0 when the exception has none) and the frame the kernel bounced (RIP, CS, RFLAGS, RSP, SS).
    /// A handler may change any of it; the stub irets to what it finds.
    /// </summary>
    public struct TrapFrame
    {
        public ulong R15, R14, R13, R12, R11, R10, R9, R8, Rbp, Rdi, Rsi, Rdx, Rcx, Rbx, Rax;
        public ulong Vector, ErrorCode;
        public ulong Rip, Cs, Rflags, Rsp, Ss;
    }

    public unsafe delegate void TrapHandler(TrapFrame* frame);

    /// <summary>The domain's own trap handlers, installed in its virtual IDT with set_trap_table.</summary>
    public static unsafe class GuestTraps
    {
        private const int StubStride = 16;

        /// <summary>Called for every trap the kernel delivers; with none set, a trap powers the domain off as crashed.</summary>
        public static TrapHandler Handler;

        [RuntimeImport("keel_guest_trap_stubs_address"), MethodImpl(MethodImplOptions.InternalCall)]
        private static extern ulong StubsAddress();

        /// <summary>struct trap_info: vector, flags (DPL in bits 0-1), cs, address.</summary>
        private struct TrapInfo
        {
            public byte Vector, Flags;
            public ushort Cs;
            public uint Padding;
            public ulong Address;
        }

        /// <summary>Points each vector at its stub; dpl is the least privileged guest mode allowed to raise it with `int n` (3: user mode too).</summary>
        public static long Install(ReadOnlySpan<byte> vectors, int dpl)
        {
            TrapInfo* table = stackalloc TrapInfo[vectors.Length + 1];
            for (int i = 0; i < vectors.Length; i++)
            {
                table[i] = new TrapInfo { Vector = vectors[i], Flags = (byte)(dpl & 3), Address = StubsAddress() + (ulong)(vectors[i] * StubStride) };
            }
            table[vectors.Length] = default;
            return Hypercall.Raw((ulong)HypercallNumber.SetTrapTable, (ulong)table);
        }

        [RuntimeExport("keel_guest_trap")]
        private static void Dispatch(TrapFrame* frame)
        {
            if (Handler == null)
            {
                DomainConsole.WriteLine("trap " + DomainConsole.Decimal((long)frame->Vector) + " with no handler");
                Hypercall.Shutdown(ShutdownReason.Crash);
            }
            Handler(frame);
        }
    }
}

using System.Runtime;
using System.Runtime.CompilerServices;
using Keel.Ringlib.Xen;

namespace Keel.Runtime
{
    /// <summary>
    /// A round trip through guest user mode (image/DomainStubs.cs, keel_enter_user): the domain irets to a
    /// few instructions in user mode that make a system call, which the kernel bounces to the domain's
    /// syscall callback in guest kernel mode; the call then returns here.
    /// </summary>
    public static unsafe class UserMode
    {
        [RuntimeImport("keel_enter_user"), MethodImpl(MethodImplOptions.InternalCall)]
        private static extern ulong EnterUser(ulong rip, ulong rsp, ulong* save);

        [RuntimeImport("keel_user_code_address"), MethodImpl(MethodImplOptions.InternalCall)]
        public static extern ulong UserCodeAddress();

        [RuntimeImport("keel_user_read_gs_address"), MethodImpl(MethodImplOptions.InternalCall)]
        private static extern ulong ReadGsCodeAddress();

        [RuntimeImport("keel_user_syscall_entry_address"), MethodImpl(MethodImplOptions.InternalCall)]
        private static extern ulong SyscallEntryAddress();

        /// <summary>struct callback_register: type, flags, address.</summary>
        private struct CallbackRegister
        {
            public ushort Type, Flags;
            public uint Padding;
            public ulong Address;
        }

        /// <summary>
        /// Runs the user-mode code once. Returns RAX as user mode left it at its system call; bouncedCs and
        /// bouncedRip are what the kernel's bounce frame said about where the call came from.
        /// </summary>
        public static ulong RoundTrip(out ulong bouncedCs, out ulong bouncedRip) => RoundTrip(UserCodeAddress(), out bouncedCs, out bouncedRip);

        /// <summary>The quadword at gs:0 as guest user mode sees it (its own GS base), read in a round trip.</summary>
        public static ulong ReadGsInUserMode() => RoundTrip(ReadGsCodeAddress(), out _, out _);

        private static ulong RoundTrip(ulong userCode, out ulong bouncedCs, out ulong bouncedRip)
        {
            byte[] userStack = new byte[8192];
            byte[] kernelStack = new byte[8192];
            var register = new CallbackRegister { Type = 2, Address = SyscallEntryAddress() };
            Hypercall.Raw((ulong)HypercallNumber.CallbackOp, 0, (ulong)&register);
            ulong* save = stackalloc ulong[3];
            fixed (byte* user = userStack)
            fixed (byte* kernel = kernelStack)
            {
                Hypercall.Raw((ulong)HypercallNumber.StackSwitch, 0xE02B, (ulong)(kernel + kernelStack.Length));
                ulong rax = EnterUser(userCode, (ulong)(user + userStack.Length), save);
                bouncedCs = save[1];
                bouncedRip = save[2];
                return rax;
            }
        }
    }
}

using System;
using Keel.Kernel.Diagnostics;
using Keel.Kernel.Input;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Hypercalls
{
    /// <summary>
    /// console_io (18): CONSOLEIO_write copies count bytes from the guest and prints them on the kernel's
    /// console, each line prefixed with the domain's name (as Xen prefixes "(dN)"). CONSOLEIO_read gives the
    /// control domain the serial input waiting in the kernel's ring (<see cref="SerialInput"/>).
    ///
    /// Keel's own command <see cref="WriteForDomain"/> is the console back-end's way out: the control domain,
    /// draining another domain's console ring, writes what it read as that domain's output (a fifth argument
    /// names the domain), so the line carries that domain's name, is held back until its own newline and has
    /// its control characters defused like any other. On Xen, xenconsoled writes to a log or a pty instead;
    /// Keel's serial console belongs to the kernel.
    /// </summary>
    internal static class ConsoleIo
    {
        /// <summary>The most one call may write; Xen splits longer writes with continuations, Keel refuses them.</summary>
        internal const ulong MaxWrite = 16 * 1024;

        private const int Chunk = 256;

        /// <summary>(0x4B00, count, buffer, domid): write as domain domid; the control domain only (-EPERM), for a domain that exists (-ESRCH).</summary>
        internal const ulong WriteForDomain = 0x4B00;

        internal static long Handle(Vcpu vcpu, in HypercallArguments call)
        {
            if ((ConsoleCommand)call.A1 == ConsoleCommand.Read) return Read(vcpu, call);
            Domain writer = vcpu.Domain;
            if (call.A1 == WriteForDomain)
            {
                if (!vcpu.Domain.Privileged) return Errno.EPERM;
                writer = DomainTable.Find(call.A4);
                if (writer == null) return Errno.ESRCH;
            }
            else if ((ConsoleCommand)call.A1 != ConsoleCommand.Write) return Errno.ENOSYS;
            ulong count = call.A2 & 0xFFFF_FFFF;
            if (count > MaxWrite) return Errno.EINVAL;
            Span<byte> chunk = stackalloc byte[Chunk];
            for (ulong done = 0; done < count; done += Chunk)
            {
                int length = (int)Math.Min(count - done, (ulong)Chunk);
                if (!GuestMemory.TryRead(vcpu, call.A3 + done, chunk.Slice(0, length))) return Errno.EFAULT;
                GuestConsole.Write(writer, chunk.Slice(0, length));
            }
            return 0;
        }

        /// <summary>
        /// CONSOLEIO_read (1, count, buffer): up to count bytes of serial input, oldest first; the number copied,
        /// 0 when none is waiting. Bytes leave the ring only once they reached the guest, as in Xen's
        /// do_console_io; a copy that faults ends the call with -EFAULT, the earlier pieces delivered.
        /// </summary>
        private static long Read(Vcpu vcpu, in HypercallArguments call)
        {
            long rc = ConsoleReadRules.Check(vcpu.Domain.Privileged, call.A2, out int count);
            if (rc != 0) return rc;
            Span<byte> chunk = stackalloc byte[Chunk];
            int done = 0;
            while (done < count)
            {
                int length = SerialInput.Ring.Peek(chunk.Slice(0, Math.Min(count - done, Chunk)));
                if (length == 0) break;
                if (!GuestMemory.TryWrite(vcpu, call.A3 + (ulong)done, chunk.Slice(0, length))) return Errno.EFAULT;
                SerialInput.Ring.Consume(length);
                done += length;
            }
            return done;
        }
    }
}

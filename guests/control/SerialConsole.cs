using System;
using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Guests.Control
{
    /// <summary>
    /// The serial input the kernel hands the control domain, as Xen hands dom0 its console input: VIRQ_CONSOLE
    /// says bytes are waiting, CONSOLEIO_read takes them from the kernel's ring. The bytes are gathered into
    /// lines (Enter sends CR; a line feed ends one too, and an empty line between CR and LF is skipped), with
    /// backspace and DEL taking back the last byte; each complete line is echoed as "control: input: LINE"
    /// and run by the <see cref="Shell"/>. A line lives in a fixed buffer; the shell gets it as a string.
    /// </summary>
    internal static unsafe class SerialConsole
    {
        /// <summary>VIRQ_CONSOLE (xen/include/public/xen.h): only the control domain may bind it.</summary>
        private const uint VirqConsole = 2;

        /// <summary>The longest line kept; the bytes typed past it end the line early.</summary>
        private const int MaxLine = 200;

        private const byte Backspace = 0x08, Delete = 0x7F;

        private static ReadOnlySpan<byte> Prefix => "control: input: "u8;
        private const int PrefixLength = 16;

        /// <summary>The echo being built: the prefix, the line, and room for its line feed.</summary>
        private static readonly byte[] s_echo = new byte[PrefixLength + MaxLine + 1];
        private static int s_length;
        private static uint s_port;

        /// <summary>Binds VIRQ_CONSOLE and takes whatever was typed before; the port, or a negative errno (and says so).</summary>
        internal static long Bind()
        {
            long port = Events.BindVirq(VirqConsole);
            if (port <= 0)
            {
                DomainConsole.WriteLine("control: no serial input: bind_virq(VIRQ_CONSOLE) answered " + DomainConsole.Decimal(port));
                return port;
            }
            s_port = (uint)port;
            Events.Unmask(s_port);
            Prefix.CopyTo(s_echo);
            Read();
            return port;
        }

        /// <summary>One turn of the event loop: if VIRQ_CONSOLE fired, reads everything waiting.</summary>
        internal static void Serve()
        {
            if (s_port != 0 && Events.TakePending(s_port)) Read();
        }

        private static void Read()
        {
            byte* buffer = stackalloc byte[128];
            long count;
            while ((count = Hypercall.ConsoleRead(buffer, 128)) > 0)
            {
                for (int i = 0; i < count; i++) Take(buffer[i]);
            }
        }

        private static void Take(byte value)
        {
            if (value == (byte)'\r' || value == (byte)'\n')
            {
                if (s_length > 0) Echo();
                return;
            }
            if (value == Backspace || value == Delete)
            {
                if (s_length > 0) s_length--;
                return;
            }
            if (value < 0x20 || value > 0x7E) return;
            s_echo[PrefixLength + s_length++] = value;
            if (s_length == MaxLine) Echo();
        }

        /// <summary>Echoes the line and hands it to the shell.</summary>
        private static void Echo()
        {
            int end = PrefixLength + s_length;
            s_echo[end] = (byte)'\n';
            fixed (byte* text = s_echo) Hypercall.ConsoleWrite(text, end + 1);
            string line = DomctlAbi.Text(new ReadOnlySpan<byte>(s_echo, PrefixLength, s_length));
            s_length = 0;
            Shell.Run(line);
        }
    }
}

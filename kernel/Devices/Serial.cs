using Keel.Kernel.Arch.X64;

namespace Keel.Kernel.Devices
{
    /// <summary>
    /// A 16550-compatible UART (COM1 at 0x3F8, ISA IRQ 4): the kernel's console. Programmed for 115200 baud,
    /// 8N1, with FIFOs. Output polls the line status register; input raises the received-data interrupt
    /// once <see cref="EnableReceiveInterrupts"/> has turned it on.
    /// </summary>
    internal static class Serial
    {
        private static readonly Port Base = new Port(0x3F8);

        // Register offsets (16550 data sheet): data/divisor low 0, interrupt enable/divisor high 1,
        // FIFO control 2, line control 3, modem control 4, line status 5.
        private const ushort Data = 0, InterruptEnable = 1, FifoControl = 2, LineControl = 3, ModemControl = 4, LineStatus = 5;
        private const byte TransmitterEmpty = 0x20, DataReady = 0x01;

        // Interrupt enable bit 0: received data available (and, with FIFOs, the character timeout).
        private const byte ReceivedDataInterrupt = 0x01;

        // Modem control: DTR and RTS, and OUT2, which on PC-compatible boards connects the UART's interrupt
        // output to its ISA IRQ line (the 16550 itself only drives the pin; the board gates it with OUT2).
        private const byte DtrRts = 0x03, Out2 = 0x08;

        internal static void Initialize()
        {
            Base.Offset(InterruptEnable).Write8(0x00);
            Base.Offset(LineControl).Write8(0x80); // DLAB: the next two writes set the divisor
            Base.Offset(Data).Write8(0x01);        // 115200 / 1
            Base.Offset(InterruptEnable).Write8(0x00);
            Base.Offset(LineControl).Write8(0x03); // 8 data bits, no parity, one stop bit
            Base.Offset(FifoControl).Write8(0xC7); // enable and clear FIFOs, 14-byte threshold
            Base.Offset(ModemControl).Write8(DtrRts);
        }

        /// <summary>
        /// Interrupts on received data: with the 14-byte FIFO threshold, when 14 bytes are waiting or when
        /// fewer have waited four character times (the 16550's character timeout), so a single key arrives too.
        /// </summary>
        internal static void EnableReceiveInterrupts()
        {
            Base.Offset(ModemControl).Write8(DtrRts | Out2);
            Base.Offset(InterruptEnable).Write8(ReceivedDataInterrupt);
        }

        /// <summary>
        /// The next received byte, if one is waiting (line status bit 0). Reading the receive buffer until it
        /// is empty is what clears the received-data and timeout interrupts.
        /// </summary>
        internal static bool TryRead(out byte value)
        {
            value = 0;
            if ((Base.Offset(LineStatus).Read8() & DataReady) == 0) return false;
            value = Base.Offset(Data).Read8();
            return true;
        }

        internal static void Write(byte value)
        {
            // Bounded wait: a missing or wedged UART must not hang the kernel; the byte is dropped instead.
            for (int spins = 0; spins < 100000 && (Base.Offset(LineStatus).Read8() & TransmitterEmpty) == 0; spins++)
            {
                Processor.Pause();
            }
            Base.Offset(Data).Write8(value);
        }
    }
}

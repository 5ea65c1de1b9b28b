using Keel.Kernel.Arch.X64;

namespace Keel.Kernel.Devices
{
    /// <summary>
    /// A 16550-compatible UART (COM1 at 0x3F8): the kernel's console. Programmed for 115200 baud, 8N1, with
    /// FIFOs; interrupts stay off and output polls the line status register.
    /// </summary>
    internal static class Serial
    {
        private static readonly Port Base = new Port(0x3F8);

        // Register offsets (16550 data sheet): data/divisor low 0, interrupt enable/divisor high 1,
        // FIFO control 2, line control 3, modem control 4, line status 5.
        private const ushort Data = 0, InterruptEnable = 1, FifoControl = 2, LineControl = 3, ModemControl = 4, LineStatus = 5;
        private const byte TransmitterEmpty = 0x20;

        internal static void Initialize()
        {
            Base.Offset(InterruptEnable).Write8(0x00);
            Base.Offset(LineControl).Write8(0x80); // DLAB: the next two writes set the divisor
            Base.Offset(Data).Write8(0x01);        // 115200 / 1
            Base.Offset(InterruptEnable).Write8(0x00);
            Base.Offset(LineControl).Write8(0x03); // 8 data bits, no parity, one stop bit
            Base.Offset(FifoControl).Write8(0xC7); // enable and clear FIFOs, 14-byte threshold
            Base.Offset(ModemControl).Write8(0x03); // DTR, RTS
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

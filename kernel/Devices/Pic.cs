using Keel.Kernel.Arch.X64;

namespace Keel.Kernel.Devices
{
    /// <summary>
    /// The legacy 8259 interrupt controllers. Keel uses the local APIC instead, so both 8259s are remapped
    /// away from the CPU exception vectors (to 0x20-0x2F, in case one raises a spurious interrupt) and then
    /// fully masked.
    /// </summary>
    internal static class Pic
    {
        private static readonly Port MasterCommand = new Port(0x20), MasterData = new Port(0x21);
        private static readonly Port SlaveCommand = new Port(0xA0), SlaveData = new Port(0xA1);

        internal static void RemapAndMask()
        {
            // ICW1: initialise, ICW4 follows. ICW2: vector bases. ICW3: slave on IRQ 2. ICW4: 8086 mode.
            MasterCommand.Write8(0x11);
            SlaveCommand.Write8(0x11);
            MasterData.Write8(0x20);
            SlaveData.Write8(0x28);
            MasterData.Write8(0x04);
            SlaveData.Write8(0x02);
            MasterData.Write8(0x01);
            SlaveData.Write8(0x01);
            MasterData.Write8(0xFF);
            SlaveData.Write8(0xFF);
        }
    }
}

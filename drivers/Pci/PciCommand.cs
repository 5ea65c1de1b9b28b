namespace Keel.Drivers.Pci;

/// <summary>
/// Changes to a function's Command register (PCI Local Bus 3.0, 6.2.2), each a read-modify-write of the
/// 16-bit register alone: the Status register beside it has write-one-to-clear bits that a 32-bit write
/// would disturb.
/// </summary>
public static class PciCommand
{
    /// <summary>Lets the function decode its memory BARs and master the bus, which a DMA device such as
    /// virtio needs before the driver touches its registers (virtio 1.2 4.1.4.3: the driver maps the
    /// structures through memory BARs).</summary>
    public static bool TryEnableMemoryAndBusMaster(PciConfigSpace config, PciAddress address) =>
        TryUpdate(config, address, PciHeader.CommandMemorySpace | PciHeader.CommandBusMaster, 0);

    /// <summary>Sets or clears Interrupt Disable (bit 10): a driver that takes INTx# clears it.</summary>
    public static bool TrySetInterruptDisable(PciConfigSpace config, PciAddress address, bool disabled) =>
        disabled
            ? TryUpdate(config, address, PciHeader.CommandInterruptDisable, 0)
            : TryUpdate(config, address, 0, PciHeader.CommandInterruptDisable);

    private static bool TryUpdate(PciConfigSpace config, PciAddress address, ushort set, ushort clear)
    {
        if (!config.TryRead(address, PciHeader.Command, 2, out uint command))
        {
            return false;
        }

        uint updated = (command | set) & ~(uint)clear;
        return updated == command || config.TryWrite(address, PciHeader.Command, 2, updated);
    }
}

namespace Keel.Drivers.Pci;

/// <summary>
/// Offsets and bits of the configuration header (PCI Local Bus 3.0, 6.1 and 6.2; the type 1 header of a
/// PCI-PCI bridge after the PCI-to-PCI Bridge Architecture 1.2, 3.2).
/// </summary>
public static class PciHeader
{
    /// <summary>Vendor ID (16 bits); 0xFFFF means no function is there (6.2.1).</summary>
    public const int VendorId = 0x00;

    /// <summary>Device ID (16 bits).</summary>
    public const int DeviceId = 0x02;

    /// <summary>Command register (16 bits, 6.2.2).</summary>
    public const int Command = 0x04;

    /// <summary>Status register (16 bits, 6.2.3).</summary>
    public const int Status = 0x06;

    /// <summary>Revision ID, then the class code: programming interface, sub-class, base class (6.2.1).</summary>
    public const int RevisionId = 0x08;

    /// <summary>Header Type (8 bits): layout in bits 6:0, multi-function device in bit 7 (6.2.1).</summary>
    public const int HeaderType = 0x0E;

    /// <summary>Base Address Register 0; the others follow every 4 bytes (6.2.5.1).</summary>
    public const int Bar0 = 0x10;

    /// <summary>Secondary Bus Number of a type 1 header (8 bits).</summary>
    public const int SecondaryBus = 0x19;

    /// <summary>Subsystem Vendor ID (16 bits) of a type 0 header (6.2.4).</summary>
    public const int SubsystemVendorId = 0x2C;

    /// <summary>Subsystem ID (16 bits) of a type 0 header.</summary>
    public const int SubsystemId = 0x2E;

    /// <summary>Capabilities Pointer (8 bits, 6.7), valid when <see cref="StatusCapabilitiesList"/> is set.</summary>
    public const int CapabilitiesPointer = 0x34;

    /// <summary>Interrupt Line (8 bits), then Interrupt Pin (8 bits: 0 none, 1-4 INTA#-INTD#) (6.2.4).</summary>
    public const int InterruptLine = 0x3C;

    /// <summary>The size of the configuration header every function has.</summary>
    public const int Size = 256;

    /// <summary>Header Type bit 7: the device implements functions other than 0.</summary>
    public const byte MultiFunction = 0x80;

    /// <summary>Header Type bits 6:0 of an ordinary function.</summary>
    public const byte TypeGeneral = 0x00;

    /// <summary>Header Type bits 6:0 of a PCI-PCI bridge.</summary>
    public const byte TypeBridge = 0x01;

    /// <summary>Command bit 0: the function responds to I/O space accesses.</summary>
    public const ushort CommandIoSpace = 1 << 0;

    /// <summary>Command bit 1: the function responds to memory space accesses.</summary>
    public const ushort CommandMemorySpace = 1 << 1;

    /// <summary>Command bit 2: the function may master the bus (DMA).</summary>
    public const ushort CommandBusMaster = 1 << 2;

    /// <summary>Command bit 10: the function may not assert INTx#.</summary>
    public const ushort CommandInterruptDisable = 1 << 10;

    /// <summary>Status bit 3: the function is asserting INTx# (or would be, were it not disabled).</summary>
    public const ushort StatusInterrupt = 1 << 3;

    /// <summary>Status bit 4: the Capabilities Pointer is valid.</summary>
    public const ushort StatusCapabilitiesList = 1 << 4;

    /// <summary>The vendor ID a read of an absent function returns.</summary>
    public const ushort AbsentVendor = 0xFFFF;
}

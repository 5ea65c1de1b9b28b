namespace Keel.Drivers.Pci;

/// <summary>
/// One PCI function as enumeration found it: its address and the identifying fields of its header
/// (PCI Local Bus 3.0, 6.2.1 and 6.2.4), read once. Registers that change (command, status, BARs) are read
/// when needed through <see cref="PciCommand"/>, <see cref="PciBar"/> and <see cref="PciCapabilityCursor"/>.
/// </summary>
public readonly struct PciFunction
{
    /// <summary>Where the function lives.</summary>
    public PciAddress Address { get; }

    /// <summary>Vendor ID.</summary>
    public ushort VendorId { get; }

    /// <summary>Device ID.</summary>
    public ushort DeviceId { get; }

    /// <summary>Revision ID.</summary>
    public byte RevisionId { get; }

    /// <summary>Class code: base class.</summary>
    public byte ClassCode { get; }

    /// <summary>Class code: sub-class.</summary>
    public byte Subclass { get; }

    /// <summary>Class code: programming interface.</summary>
    public byte ProgrammingInterface { get; }

    /// <summary>Header Type bits 6:0 (<see cref="PciHeader.TypeGeneral"/>, <see cref="PciHeader.TypeBridge"/>).</summary>
    public byte HeaderLayout { get; }

    /// <summary>Header Type bit 7: the device has functions other than 0.</summary>
    public bool IsMultiFunction { get; }

    /// <summary>Subsystem Vendor ID (type 0 headers; 0 otherwise).</summary>
    public ushort SubsystemVendorId { get; }

    /// <summary>Subsystem ID (type 0 headers; 0 otherwise).</summary>
    public ushort SubsystemId { get; }

    /// <summary>Interrupt Line: the legacy IRQ firmware routed INTx# to (0xFF: unknown).</summary>
    public byte InterruptLine { get; }

    /// <summary>Interrupt Pin: 0 none, 1-4 INTA#-INTD#.</summary>
    public byte InterruptPin { get; }

    /// <summary>Whether the function is a PCI-PCI bridge (type 1 header).</summary>
    public bool IsBridge => HeaderLayout == PciHeader.TypeBridge;

    private PciFunction(PciAddress address, uint ids, uint classAndRevision, uint headerDword, uint subsystem, uint interrupt)
    {
        Address = address;
        VendorId = (ushort)ids;
        DeviceId = (ushort)(ids >> 16);
        RevisionId = (byte)classAndRevision;
        ProgrammingInterface = (byte)(classAndRevision >> 8);
        Subclass = (byte)(classAndRevision >> 16);
        ClassCode = (byte)(classAndRevision >> 24);
        byte headerType = (byte)(headerDword >> 16);
        HeaderLayout = (byte)(headerType & 0x7F);
        IsMultiFunction = (headerType & PciHeader.MultiFunction) != 0;
        SubsystemVendorId = HeaderLayout == PciHeader.TypeGeneral ? (ushort)subsystem : (ushort)0;
        SubsystemId = HeaderLayout == PciHeader.TypeGeneral ? (ushort)(subsystem >> 16) : (ushort)0;
        InterruptLine = (byte)interrupt;
        InterruptPin = (byte)(interrupt >> 8);
    }

    /// <summary>Reads the header of the function at <paramref name="address"/>; false when a read fails or
    /// the vendor ID is 0xFFFF (no function there).</summary>
    public static bool TryRead(PciConfigSpace config, PciAddress address, out PciFunction function)
    {
        function = default;
        if (!config.TryRead(address, PciHeader.VendorId, 4, out uint ids) || (ushort)ids == PciHeader.AbsentVendor)
        {
            return false;
        }

        // Dword reads: every configuration mechanism supports them, and one read per dword keeps the header
        // consistent field by field (6.1: the header is dword-addressed).
        if (!config.TryRead(address, PciHeader.RevisionId, 4, out uint classAndRevision)
            || !config.TryRead(address, PciHeader.HeaderType & ~3, 4, out uint headerDword)
            || !config.TryRead(address, PciHeader.SubsystemVendorId, 4, out uint subsystem)
            || !config.TryRead(address, PciHeader.InterruptLine, 4, out uint interrupt))
        {
            return false;
        }

        function = new PciFunction(address, ids, classAndRevision, headerDword, subsystem, interrupt);
        return true;
    }
}

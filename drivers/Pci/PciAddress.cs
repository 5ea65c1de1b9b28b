using System;

namespace Keel.Drivers.Pci;

/// <summary>
/// Where a PCI function lives: segment, bus, device (0-31) and function (0-7). Xen names a function by its
/// machine SBDF, seg &lt;&lt; 16 | bus &lt;&lt; 8 | dev &lt;&lt; 3 | fn (public/physdev.h, PHYSDEVOP_pci_device_add and
/// friends), and prints it as "BB:DD.F" in hexadecimal (with "SSSS:" in front for a segment other than 0).
/// </summary>
public readonly struct PciAddress : IEquatable<PciAddress>
{
    /// <summary>Devices per bus (PCI Local Bus 3.0, 3.2.2.3.2: five device-number bits).</summary>
    public const int DevicesPerBus = 32;

    /// <summary>Functions per device (three function-number bits).</summary>
    public const int FunctionsPerDevice = 8;

    private readonly uint _sbdf;

    private PciAddress(uint sbdf) => _sbdf = sbdf;

    /// <summary>The PCI segment (domain) number.</summary>
    public ushort Segment => (ushort)(_sbdf >> 16);

    /// <summary>The bus number.</summary>
    public byte Bus => (byte)(_sbdf >> 8);

    /// <summary>The device number, 0-31.</summary>
    public byte Device => (byte)((_sbdf >> 3) & 0x1F);

    /// <summary>The function number, 0-7.</summary>
    public byte Function => (byte)(_sbdf & 0x7);

    /// <summary>Xen's machine_sbdf encoding of this address.</summary>
    public uint MachineSbdf => _sbdf;

    /// <summary>The address of a function; false when device or function is out of range.</summary>
    public static bool TryCreate(ushort segment, byte bus, int device, int function, out PciAddress address)
    {
        address = default;
        if ((uint)device >= DevicesPerBus || (uint)function >= FunctionsPerDevice)
        {
            return false;
        }

        address = new PciAddress((uint)segment << 16 | (uint)bus << 8 | (uint)device << 3 | (uint)function);
        return true;
    }

    /// <summary>The address Xen's machine_sbdf value names; every 32-bit value names one.</summary>
    public static PciAddress FromMachineSbdf(uint sbdf) => new PciAddress(sbdf);

    /// <summary>The characters <see cref="TryFormat"/> needs at most: "SSSS:BB:DD.F".</summary>
    public const int MaxFormattedLength = 12;

    /// <summary>Writes "BB:DD.F" (or "SSSS:BB:DD.F" outside segment 0) in lower-case hexadecimal; false when
    /// <paramref name="destination"/> is too short.</summary>
    public bool TryFormat(Span<char> destination, out int written)
    {
        written = 0;
        int length = Segment == 0 ? 7 : MaxFormattedLength;
        if (destination.Length < length)
        {
            return false;
        }

        int at = 0;
        if (Segment != 0)
        {
            at = WriteHex(destination, at, Segment, 4);
            destination[at++] = ':';
        }

        at = WriteHex(destination, at, Bus, 2);
        destination[at++] = ':';
        at = WriteHex(destination, at, Device, 2);
        destination[at++] = '.';
        at = WriteHex(destination, at, Function, 1);
        written = at;
        return true;
    }

    /// <summary>The text of <see cref="TryFormat"/>; allocates, so for messages at initialisation only.</summary>
    public override string ToString()
    {
        Span<char> text = stackalloc char[MaxFormattedLength];
        TryFormat(text, out int written);
        return new string(text.Slice(0, written));
    }

    /// <inheritdoc />
    public bool Equals(PciAddress other) => _sbdf == other._sbdf;

    /// <inheritdoc />
    public override bool Equals(object obj) => obj is PciAddress other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => (int)_sbdf;

    private static int WriteHex(Span<char> destination, int at, uint value, int digits)
    {
        for (int i = digits - 1; i >= 0; i--)
        {
            uint digit = (value >> (4 * i)) & 0xF;
            destination[at++] = (char)(digit < 10 ? '0' + digit : 'a' + digit - 10);
        }

        return at;
    }
}

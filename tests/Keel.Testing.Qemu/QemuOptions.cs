namespace Keel.Testing.Qemu;

/// <summary>The firmware QEMU starts the machine with.</summary>
public enum Firmware
{
    /// <summary>SeaBIOS on QEMU's default i440FX machine.</summary>
    Bios,

    /// <summary>OVMF (UEFI) on the q35 machine, with a private copy of the variable store.</summary>
    Uefi,
}

/// <summary>How the image is attached to the machine.</summary>
public enum BootDrive
{
    /// <summary>As a raw hard disk; guest writes go to a throw-away overlay, so the image stays as built.</summary>
    Disk,

    /// <summary>As a CD-ROM (read-only), the way the hybrid ISO image is also meant to boot.</summary>
    CdRom,
}

/// <summary>What machine to start. The defaults match the README's QEMU command line.</summary>
public sealed record QemuOptions(string Image)
{
    public Firmware Firmware { get; init; } = Firmware.Bios;

    public BootDrive Drive { get; init; } = BootDrive.Disk;

    public int MemoryMiB { get; init; } = 256;

    /// <summary>Appended verbatim after the arguments the harness builds (devices, networks, CPU model).</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];
}

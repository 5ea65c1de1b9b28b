namespace Keel.Blkback.Core;

/// <summary>
/// The part of a physical disk a virtual block device is: sectors [Start, Start + Sectors) of Disk, which the
/// front-end sees as sectors [0, Sectors). A request is checked against Sectors (so it can never reach
/// outside the extent) and only then moved by Start.
/// </summary>
public readonly struct VbdExtent
{
    /// <summary>The physical disk.</summary>
    public BlockDevice Disk { get; }

    /// <summary>The disk sector the virtual device's sector 0 is.</summary>
    public ulong Start { get; }

    /// <summary>Size of the virtual device in 512-byte sectors.</summary>
    public ulong Sectors { get; }

    /// <summary>The front-end may not write (VDISK_READONLY); a read-only disk makes every extent read-only.</summary>
    public bool ReadOnly { get; }

    public VbdExtent(BlockDevice disk, ulong start, ulong sectors, bool readOnly)
    {
        Disk = disk;
        Start = start;
        Sectors = sectors;
        ReadOnly = readOnly || (disk != null && disk.IsReadOnly);
    }

    /// <summary>The extent lies on its disk: Start + Sectors &lt;= Capacity, computed without wrapping 2^64.</summary>
    public bool IsOnDisk => Disk != null && Start <= Disk.Capacity && Sectors <= Disk.Capacity - Start;
}

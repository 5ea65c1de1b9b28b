using System;
using System.Collections.Generic;
using Keel.Guests.KvStore;
using Xunit;

namespace Keel.KvStore.Tests.Support;

/// <summary>A disk in memory that can be made read-only, or made to fail from some write or read on.</summary>
public sealed class MemoryDisk(int sectors, int maxReadSectors = 16) : KvDisk
{
    public byte[] Bytes { get; } = new byte[sectors * KvFormat.SectorBytes];

    public bool IsReadOnly { get; set; }

    /// <summary>Writes succeed until this many have been done; then each fails, the disk unchanged.</summary>
    public int WritesBeforeFailure { get; set; } = int.MaxValue;

    /// <summary>A read that touches this sector fails.</summary>
    public long FailingReadSector { get; set; } = -1;

    public List<ulong> Written { get; } = [];

    public override ulong Sectors => (ulong)sectors;

    public override bool ReadOnly => IsReadOnly;

    public override int MaxReadSectors => maxReadSectors;

    public Span<byte> Sector(int sector) => Bytes.AsSpan(sector * KvFormat.SectorBytes, KvFormat.SectorBytes);

    public override bool Read(ulong sector, int count, Span<byte> into)
    {
        Assert.InRange(count, 1, maxReadSectors);
        Assert.True(sector + (ulong)count <= (ulong)sectors, $"a read of sectors {sector}+{count} passes the end");
        if (FailingReadSector >= (long)sector && FailingReadSector < (long)sector + count) return false;
        Bytes.AsSpan((int)sector * KvFormat.SectorBytes, count * KvFormat.SectorBytes).CopyTo(into);
        return true;
    }

    public override bool Write(ulong sector, ReadOnlySpan<byte> data)
    {
        Assert.False(IsReadOnly, "a read-only disk was written");
        Assert.True(sector < (ulong)sectors, $"a write of sector {sector} passes the end");
        if (Written.Count >= WritesBeforeFailure) return false;
        data.Slice(0, KvFormat.SectorBytes).CopyTo(Sector((int)sector));
        Written.Add(sector);
        return true;
    }
}

/// <summary>The store's lines, kept.</summary>
public sealed class ListConsole : KvConsole
{
    public List<string> Lines { get; } = [];

    public override void WriteLine(ReadOnlySpan<char> line) => Lines.Add(new string(line));
}

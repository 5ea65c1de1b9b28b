using System;
using System.Collections.Generic;
using Keel.Drivers.Virtio;

namespace Keel.Drivers.Tests.Model;

/// <summary>Small helpers the block tests share.</summary>
public static class BlockIo
{
    public static List<BlockCompletion> ReapAll(VirtioBlock block)
    {
        var all = new List<BlockCompletion>();
        Span<BlockCompletion> batch = new BlockCompletion[8];
        int count;
        do
        {
            count = block.Reap(batch);
            for (int i = 0; i < count; i++)
            {
                all.Add(batch[i]);
            }
        }
        while (count == batch.Length);

        return all;
    }

    public static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Submits a one-sector read into <paramref name="buffer"/> and kicks; says whether it was accepted.</summary>
    public static bool ReadSector(VirtioBlock block, ulong buffer, ulong sector, ulong token)
    {
        bool accepted = block.TrySubmit(BlockOperation.Read, sector, One(buffer, VirtioBlockConfiguration.SectorSize), token);
        block.Kick();
        return accepted;
    }

    public static BlockSegment[] One(ulong bus, uint length) => new[] { new BlockSegment(bus, length) };
}

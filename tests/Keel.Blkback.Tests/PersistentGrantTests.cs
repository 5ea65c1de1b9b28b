using System.Linq;
using Keel.Blkback.Core;
using Keel.Blkback.Tests.Support;
using Keel.Ringlib.Protocols;
using Xunit;

namespace Keel.Blkback.Tests;

/// <summary>feature-persistent: data pages stay mapped across requests, in a bounded cache.</summary>
public sealed class PersistentGrantTests
{
    private static RigOptions Persistent(ushort indirect = 0) => new() { Features = new VbdFeatures(indirect, true) };

    [Fact]
    public void A_grant_seen_again_reuses_its_mapping_for_a_read_after_a_write()
    {
        using var rig = new Rig(Persistent());
        rig.Push(Rig.Request(BlkifOperation.Write, 1, 0, rig.Page(1)));
        rig.Run();
        rig.Push(Rig.Request(BlkifOperation.Read, 2, 0, rig.Page(1)));
        rig.Run();

        Assert.All(rig.Responses(), r => Assert.Equal((short)BlkifStatus.Okay, r.Status));
        Assert.Equal(1, rig.Grants.DeviceMaps);
        Assert.Equal((1ul, 1ul), (rig.Engine.Statistics.PersistentHits, rig.Engine.Statistics.PersistentMisses));
        Assert.Equal(1, rig.Grants.Live);
        Assert.Equal(0, rig.Disk.UnmappedAccesses);
    }

    [Fact]
    public void Every_persistent_mapping_is_unmapped_at_disconnect()
    {
        using var rig = new Rig(Persistent());
        rig.Push(Rig.Request(BlkifOperation.Write, 1, 0, rig.Pages(1, 11)), Rig.Request(BlkifOperation.Read, 2, 200, rig.Pages(20, 5)));
        rig.Run();
        Assert.Equal(16, rig.Engine.PersistentMappings);

        rig.Disconnect();
        Assert.Equal(0, rig.Engine.PersistentMappings);
        Assert.Equal(0, rig.Grants.Live);
        Assert.Equal(0, rig.Grants.BadUnmaps);
    }

    [Fact]
    public void A_full_cache_evicts_the_least_recently_used_mapping()
    {
        using var rig = new Rig(Persistent());
        int capacity = (int)rig.RingSize * Blkif.MaxSegmentsPerRequest;
        for (int i = 0; i < capacity / 11; i++)
        {
            rig.Push(Rig.Request(BlkifOperation.Read, (ulong)i, 0, rig.Pages((uint)(i * 11), 11)));
            rig.Run();
            rig.Responses();
        }

        Assert.Equal(capacity, rig.Engine.PersistentMappings);
        rig.Push(Rig.Request(BlkifOperation.Read, 1000, 0, rig.Page(5000)));
        rig.Run();
        rig.Push(Rig.Request(BlkifOperation.Read, 1001, 0, rig.Page((uint)capacity - 1)));
        rig.Run();
        Assert.Equal(1ul, rig.Engine.Statistics.PersistentEvictions);
        Assert.Equal(1ul, rig.Engine.Statistics.PersistentHits);

        // Reference 0 was the least recently used: it is gone, and mapping it again is a miss.
        ulong misses = rig.Engine.Statistics.PersistentMisses;
        rig.Push(Rig.Request(BlkifOperation.Read, 1002, 0, rig.Page(0)));
        rig.Run();
        Assert.Equal(misses + 1, rig.Engine.Statistics.PersistentMisses);
        Assert.Equal(capacity, rig.Grants.Live);
    }

    [Fact]
    public void When_every_cached_mapping_is_busy_a_request_maps_its_pages_for_itself()
    {
        using var rig = new Rig(Persistent(256) with { DiskSectors = 8192, ExtentStart = 0, ExtentSectors = 8192 });
        int capacity = (int)rig.RingSize * Blkif.MaxSegmentsPerRequest + 256;
        rig.Disk.Hold = true;
        for (int i = 0; i < 3; i++)
        {
            rig.Push(rig.Indirect(BlkifOperation.Read, (ulong)i, (ulong)i * 2048, 9000 + (uint)i * 10, rig.Pages((uint)i * 256, 256)));
        }

        rig.Step();
        Assert.Equal(3 * 256, rig.Grants.Live);
        rig.Disk.Hold = false;
        rig.Run();

        Assert.Equal(3, rig.Responses().Count(r => r.Status == 0));
        Assert.Equal(capacity, rig.Grants.Live);
        rig.Disconnect();
        Assert.Equal(0, rig.Grants.Live);
    }
}

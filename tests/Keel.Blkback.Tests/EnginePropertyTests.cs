using System.Collections.Generic;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Keel.Blkback.Core;
using Keel.Blkback.Tests.Support;
using Keel.Ringlib.Protocols;
using Xunit;

namespace Keel.Blkback.Tests;

/// <summary>What the front-end sends next in a generated scenario.</summary>
public enum SpecKind
{
    Read,
    Write,
    IndirectRead,
    Flush,
    ReversedSegment,
    PastTheEnd,
    UnknownOperation,
    RefusedGrant,
    DuplicateId,
}

/// <summary>One request: its kind, first sector (scaled into the vbd), segment count, and whether the
/// driver domain wakes after it.</summary>
public sealed record Spec(SpecKind Kind, int Sector, int Segments, bool Wake);

public sealed record EngineScenario(Spec[] Specs, int Seed, bool Persistent, int QueueDepth, int MaxSegments)
{
    public override string ToString() =>
        $"seed={Seed} persistent={Persistent} depth={QueueDepth} maxSegments={MaxSegments} [{string.Join(", ", Specs.Select(s => s.ToString()))}]";
}

public static class EngineScenarios
{
    public static Arbitrary<EngineScenario> Scenario()
    {
        Gen<Spec> spec =
            from kind in Gen.Frequency(
                (5, Gen.Constant(SpecKind.Read)), (5, Gen.Constant(SpecKind.Write)), (2, Gen.Constant(SpecKind.IndirectRead)),
                (1, Gen.Constant(SpecKind.Flush)), (1, Gen.Constant(SpecKind.ReversedSegment)), (1, Gen.Constant(SpecKind.PastTheEnd)),
                (1, Gen.Constant(SpecKind.UnknownOperation)), (1, Gen.Constant(SpecKind.RefusedGrant)), (1, Gen.Constant(SpecKind.DuplicateId)))
            from sector in Gen.Choose(0, 255)
            from segments in Gen.Choose(1, 11)
            from wake in Gen.Frequency((1, Gen.Constant(true)), (3, Gen.Constant(false)))
            select new Spec(kind, sector, segments, wake);
        Gen<EngineScenario> scenario =
            from specs in spec.ArrayOf()
            from seed in Gen.Choose(0, 1_000_000)
            from persistent in Gen.Elements(true, false)
            from depth in Gen.Elements(1, 4, 64)
            from maxSegments in Gen.Elements(4, 11, 64)
            select new EngineScenario(specs, seed, persistent, depth, maxSegments);
        return scenario.ToArbitrary();
    }
}

/// <summary>The engine's promises over random mixes of good and bad requests and random completion orders.</summary>
public sealed unsafe class EnginePropertyTests
{
    private const uint RefusedRef = 4000;

    [Property(Arbitrary = new[] { typeof(EngineScenarios) }, MaxTest = 300)]
    public void Every_request_is_answered_once_nothing_leaves_the_extent_and_disconnect_unmaps_everything(EngineScenario scenario)
    {
        var options = new RigOptions
        {
            Seed = scenario.Seed,
            QueueDepth = scenario.QueueDepth,
            MaxSegments = scenario.MaxSegments,
            Features = new VbdFeatures(VbdFeatures.DefaultMaxIndirectSegments, scenario.Persistent),
        };
        using var rig = new Rig(options);
        rig.Grants.Grant(RefusedRef);
        rig.Grants.Refused.Add(RefusedRef);
        rig.Disk.FailSector = s => s % 251 == 0;
        var sent = new Dictionary<ulong, int>();
        var mustFail = new HashSet<ulong>();
        var answered = new Dictionary<ulong, int>();
        var statuses = new Dictionary<ulong, short>();

        void Collect()
        {
            foreach (BlkifResponse response in rig.Responses())
            {
                answered[response.Id] = answered.GetValueOrDefault(response.Id) + 1;
                statuses[response.Id] = response.Status;
            }
        }

        for (int i = 0; i < scenario.Specs.Length; i++)
        {
            Spec spec = scenario.Specs[i];
            ulong id = spec.Kind == SpecKind.DuplicateId && i > 0 ? (ulong)(i - 1) : (ulong)i;
            if (rig.Front.FreeRequests == 0)
            {
                rig.Run();
                Collect();
            }

            rig.Push(Build(rig, spec, id));
            sent[id] = sent.GetValueOrDefault(id) + 1;
            if (spec.Kind is SpecKind.ReversedSegment or SpecKind.PastTheEnd or SpecKind.UnknownOperation or SpecKind.RefusedGrant)
            {
                mustFail.Add(id);
            }

            if (spec.Wake)
            {
                rig.Step();
                Collect();
            }
        }

        rig.Run();
        Collect();

        Assert.False(rig.Engine.IsCutOff);
        Assert.Equal(sent.OrderBy(p => p.Key), answered.OrderBy(p => p.Key));
        Assert.All(mustFail.Where(id => sent[id] == 1), id => Assert.NotEqual((short)BlkifStatus.Okay, statuses[id]));
        ulong start = options.ExtentStart, end = options.ExtentStart + options.ExtentSectors;
        Assert.All(rig.Disk.Received, r => Assert.True(r.Sector >= start && r.Sector + r.Sectors <= end));
        Assert.Equal(0, rig.Disk.UnmappedAccesses);
        rig.Disconnect();
        Assert.Equal(0, rig.Grants.Live);
        Assert.Equal(0, rig.Grants.BadUnmaps);
    }

    private static BlkifRequest Build(Rig rig, Spec spec, ulong id)
    {
        ulong sector = (ulong)spec.Sector * 8;
        // A small pool of references, so persistent grants see reuse.
        BlkifSegment[] pages = Enumerable.Range(0, spec.Segments).Select(k => rig.Page((uint)((spec.Sector + k) % 48 + 1))).ToArray();
        switch (spec.Kind)
        {
            case SpecKind.Read: return Rig.Request(BlkifOperation.Read, id, sector, pages);
            case SpecKind.Write: return Rig.Request(BlkifOperation.Write, id, sector, pages);
            case SpecKind.IndirectRead:
                BlkifSegment[] many = Enumerable.Range(0, spec.Segments * 6).Select(k => rig.Page((uint)(k % 48 + 1))).ToArray();
                return rig.Indirect(BlkifOperation.Read, id, sector % 1024, 3000 + (uint)spec.Sector, many);
            case SpecKind.Flush: return Rig.Request(BlkifOperation.FlushDiskCache, id, 0);
            case SpecKind.ReversedSegment: return Rig.Request(BlkifOperation.Read, id, sector, new BlkifSegment(1, 5, 2));
            case SpecKind.PastTheEnd: return Rig.Request(BlkifOperation.Write, id, rig.Options.ExtentSectors - (ulong)spec.Segments, pages);
            case SpecKind.UnknownOperation: return Rig.Request((BlkifOperation)(7 + spec.Sector % 200), id, sector, pages);
            case SpecKind.RefusedGrant:
                pages[spec.Segments / 2] = new BlkifSegment(RefusedRef, 0, 7);
                return Rig.Request(BlkifOperation.Read, id, sector, pages);
            default: return Rig.Request(BlkifOperation.Read, id, sector, pages);
        }
    }
}

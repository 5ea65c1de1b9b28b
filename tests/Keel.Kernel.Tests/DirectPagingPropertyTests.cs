using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Keel.Ringlib.Xen;
using Keel.Kernel.Memory;
using Keel.Kernel.Paging;
using static Keel.Kernel.Paging.EntryRules;

namespace Keel.Kernel.Tests;

public enum PagingStepKind { Update, PreserveAdUpdate, MachPhys, Batch, UpdateVa, Pin, Unpin, NewBase, NewUserBase, Flush, Release, Allocate }

/// <summary>
/// One hostile step. Frames are picks, resolved when the step runs: <see cref="OwnFrame"/> says whether
/// from the acting domain's frames or from the whole machine (other domains', free, the hypervisor's, I/O).
/// </summary>
public sealed record PagingStep(PagingStepKind Kind, int Domain, bool OwnFrame, int Frame, int Index,
                                bool OwnTarget, int Target, int Flags, int Level, int Extra)
{
    public override string ToString() =>
        $"{Kind} d{Domain} {(OwnFrame ? "own" : "any")}#{Frame}[{Index}] -> {(OwnTarget ? "own" : "any")}#{Target} flags#{Flags} L{Level} x{Extra}";
}

public static class PagingSteps
{
    public static Arbitrary<PagingStep[]> Sequences()
    {
        Gen<PagingStepKind> kind = Gen.Frequency(
            (10, Gen.Constant(PagingStepKind.Update)),
            (2, Gen.Constant(PagingStepKind.PreserveAdUpdate)),
            (1, Gen.Constant(PagingStepKind.MachPhys)),
            (2, Gen.Constant(PagingStepKind.Batch)),
            (4, Gen.Constant(PagingStepKind.UpdateVa)),
            (4, Gen.Constant(PagingStepKind.Pin)),
            (3, Gen.Constant(PagingStepKind.Unpin)),
            (2, Gen.Constant(PagingStepKind.NewBase)),
            (2, Gen.Constant(PagingStepKind.NewUserBase)),
            (1, Gen.Constant(PagingStepKind.Flush)),
            (1, Gen.Constant(PagingStepKind.Release)),
            (1, Gen.Constant(PagingStepKind.Allocate)));
        Gen<bool> own = Gen.Frequency((5, Gen.Constant(true)), (1, Gen.Constant(false)));
        Gen<PagingStep> step =
            from k in kind
            from domain in Gen.Choose(0, PagingRun.Domains - 1)
            from ownFrame in own
            from frame in Gen.Choose(0, 1000)
            from index in Gen.Choose(0, PagingRun.Indices.Length - 1)
            from ownTarget in own
            from target in Gen.Choose(0, 1000)
            from flags in Gen.Choose(0, PagingRun.FlagSets.Length - 1)
            from level in Gen.Choose(1, 4)
            from extra in Gen.Choose(0, 1000)
            select new PagingStep(k, domain, ownFrame, frame, index, ownTarget, target, flags, level, extra);
        return (from length in Gen.Choose(1, 120) from steps in step.ArrayOf(length) select steps).ToArbitrary();
    }
}

/// <summary>
/// A small machine with three hostile domains, each built as Xen's builder would, plus spare frames;
/// domain 2 may map two I/O frames. Runs steps, and after each checks the invariants from scratch and a
/// model of what TLBs may still hold since the last full flush reported.
/// </summary>
internal sealed class PagingRun
{
    public const int Domains = 3;
    public static readonly int[] Indices = [0, 1, 2, 3, 7, 255, 256, 260, 271, 272, 509, 510, 511];
    public static readonly ulong[] FlagSets =
    [
        0, Present, Present | Writable, Present | User, Present | Writable | User, Present | LargeOrPat,
        Present | CacheDisable, Present | Global, Present | Writable | Accessed | Dirty, Present | NoExecute,
        Present | Writable | NoExecute, Present | Available | AvailableHigh, Writable, Present | WriteThrough | Writable,
    ];

    private readonly PagingMachine _m;
    private readonly TestIo _io;
    private readonly Guest[] _guests = new Guest[Domains];
    private readonly VcpuTables[] _vcpus = new VcpuTables[Domains];
    private HashSet<ulong> _staleWritable = [];
    private HashSet<ulong> _staleTables = [];
    private Dictionary<ulong, ushort> _staleMapped = [];

    public PagingRun()
    {
        _io = new TestIo { Domain = 2, First = 128 - PagingMachine.HypervisorFrames - PagingMachine.IoFrames, Count = 2 };
        _m = new PagingMachine(frames: 128, domains: Domains, io: _io, quota: 24);
        for (ushort d = 0; d < Domains; d++)
        {
            _guests[d] = GuestBuilder.Build(_m, d, 3);
            _vcpus[d] = _guests[d].Vcpu;
            for (int i = 0; i < 5; i++) _m.Frame(d);
        }
        Check(null, reset: true);
    }

    public void Apply(PagingStep step)
    {
        TlbFlush flush = default;
        long rc = Run(step, ref flush);
        Assert.Contains(rc, new long[] { 0, Errno.EPERM, Errno.ESRCH, Errno.E2BIG, Errno.ENOMEM, Errno.EACCES, Errno.EBUSY, Errno.EINVAL, Errno.ENOSYS, Errno.EOPNOTSUPP });
        Check(step, reset: flush.Kind == TlbFlushKind.All && flush.OtherVcpus);
    }

    private long Run(PagingStep s, ref TlbFlush flush)
    {
        ushort d = (ushort)s.Domain;
        ulong frame = Pick(d, s.OwnFrame, s.Frame);
        ulong value = (Pick(d, s.OwnTarget, s.Target) << 12) | FlagSets[s.Flags];
        int index = Indices[s.Index];
        switch (s.Kind)
        {
            case PagingStepKind.Update:
            case PagingStepKind.PreserveAdUpdate:
                uint command = s.Kind == PagingStepKind.Update ? MmuUpdateRequest.NormalPtUpdate : MmuUpdateRequest.PtUpdatePreserveAd;
                return Update(d, [new() { Ptr = frame * 4096 + (ulong)index * 8 + command, Val = value }], ref flush);
            case PagingStepKind.MachPhys:
                return Update(d, [new() { Ptr = frame * 4096 + MmuUpdateRequest.MachPhysUpdate, Val = (ulong)s.Extra }], ref flush);
            case PagingStepKind.Batch:
                return Update(d, Batch(d, s), ref flush);
            case PagingStepKind.UpdateVa:
                return _m.Paging.UpdateVaMapping(d, _vcpus[d], VirtualAddress(d, s.Extra), value, (ulong)(s.Level - 1) * 3, ref flush);
            case PagingStepKind.Allocate:
                return _m.Paging.AllocateFrame(d, out _);
            case PagingStepKind.Release:
                return _m.Paging.ReleaseFrame(d, frame, ref flush);
            default:
                return ExtOp(d, s, frame, ref flush);
        }
    }

    private long ExtOp(ushort d, PagingStep s, ulong frame, ref TlbFlush flush)
    {
        var op = s.Kind switch
        {
            PagingStepKind.Pin => new MmuExtRequest { Cmd = MmuExtRequest.PinL1Table + (uint)(s.Level - 1), Arg1 = frame },
            PagingStepKind.Unpin => new MmuExtRequest { Cmd = MmuExtRequest.UnpinTable, Arg1 = frame },
            PagingStepKind.NewBase => new MmuExtRequest { Cmd = MmuExtRequest.NewBaseptr, Arg1 = frame },
            PagingStepKind.NewUserBase => new MmuExtRequest { Cmd = MmuExtRequest.NewUserBaseptr, Arg1 = s.Extra % 4 == 0 ? 0 : frame },
            _ => new MmuExtRequest { Cmd = (uint)(s.Extra % 22), Arg1 = VirtualAddress(d, s.Extra), Arg2 = frame },
        };
        return _m.Paging.MmuExtOp(d, ref _vcpus[d], [op], DomainIds.Self, out _, ref flush);
    }

    private long Update(ushort d, MmuUpdateRequest[] requests, ref TlbFlush flush)
    {
        long rc = _m.Paging.MmuUpdate(d, requests, DomainIds.Self, out int done, ref flush);
        Assert.InRange(done, 0, requests.Length);
        Assert.True(rc == 0 ? done == requests.Length : done < requests.Length, $"rc {rc} with {done} of {requests.Length} done");
        return rc;
    }

    private MmuUpdateRequest[] Batch(ushort d, PagingStep s)
    {
        var requests = new MmuUpdateRequest[1 + s.Extra % 4];
        for (int i = 0; i < requests.Length; i++)
        {
            int seed = s.Extra * 31 + i * 7;
            ulong table = Pick(d, true, s.Frame + i);
            ulong value = (Pick(d, seed % 5 != 0, s.Target + seed) << 12) | FlagSets[(s.Flags + i) % FlagSets.Length];
            requests[i] = new MmuUpdateRequest { Ptr = table * 4096 + (ulong)Indices[(s.Index + i) % Indices.Length] * 8, Val = value };
        }
        return requests;
    }

    private ulong Pick(ushort d, bool own, int n)
    {
        if (!own) return (ulong)(n % 130);
        var owned = Enumerable.Range(0, _m.FrameCount).Where(f => _m.Frames.OwnerOf((ulong)f) == d).ToArray();
        return owned.Length == 0 ? 0 : (ulong)owned[n % owned.Length];
    }

    private ulong VirtualAddress(ushort d, int n) => (n % 8) switch
    {
        0 => 0x0000_8000_0000_0000,
        1 => 0xFFFF_8000_0000_5000,
        2 => (ulong)n * 4096,
        _ => _guests[d].Va(n % 9),
    };

    /// <summary>
    /// The invariants, then the TLB model: a frame mapped writable (or used as a table, or mapped at all)
    /// since the last full flush may still be so in some TLB, so until a flush is reported it must not
    /// have become a table (or writable, or another domain's).
    /// </summary>
    private void Check(PagingStep? step, bool reset)
    {
        var scan = PagingInvariants.Scan(_m, _vcpus, _io);
        Assert.True(scan.Violations.Count == 0, $"after {step}:\n{string.Join("\n", scan.Violations)}");
        if (!reset)
        {
            foreach (ulong f in _staleWritable) Assert.False(scan.Tables.Contains(f), $"after {step}: frame {f} became a table with no flush");
            foreach (ulong f in _staleTables) Assert.False(_m.Frames[f].Type == PageType.Writable, $"after {step}: table {f} became writable with no flush");
            foreach (var (f, owner) in _staleMapped) Assert.True(_m.Frames.OwnerOf(f) == owner, $"after {step}: frame {f} changed owner with no flush");
            _staleWritable.UnionWith(scan.WritableMapped);
            _staleTables.UnionWith(scan.Tables);
            foreach (var (f, owner) in scan.Mapped) _staleMapped.TryAdd(f, owner);
            return;
        }
        _staleWritable = [.. scan.WritableMapped];
        _staleTables = [.. scan.Tables];
        _staleMapped = new Dictionary<ulong, ushort>(scan.Mapped);
    }

    /// <summary>Destroys every domain; every frame must come back.</summary>
    public void DestroyAll()
    {
        TlbFlush flush = default;
        for (ushort d = 0; d < Domains; d++)
        {
            Assert.Equal(0u, _m.Paging.DestroyDomain(d, _vcpus.AsSpan(d, 1), ref flush));
            Check(null, reset: true);
        }
        Assert.Equal(_m.FreeAtStart, _m.Allocator.FreeFrames);
        for (ulong f = 0; f < (ulong)_m.FrameCount; f++) Assert.False(_m.Frames.IsDomain(_m.Frames.OwnerOf(f)), $"frame {f} still owned");
    }
}

public class DirectPagingPropertyTests
{
    [Property(Arbitrary = new[] { typeof(PagingSteps) }, MaxTest = 500)]
    public void Hostile_domains_never_break_the_paging_invariants_and_teardown_returns_every_frame(PagingStep[] steps)
    {
        var run = new PagingRun();
        foreach (PagingStep step in steps) run.Apply(step);
        run.DestroyAll();
    }
}

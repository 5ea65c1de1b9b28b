using FsCheck;
using FsCheck.Fluent;
using Keel.Kernel.Scheduling;

namespace Keel.Kernel.Tests;

public class BvtTests(ITestOutputHelper output)
{
    private const ulong Us = 1000;
    private const ulong Ms = 1000 * Us;
    private const ulong S = 1000 * Ms;
    private const ulong Mcu = 100 * Us;
    private const ulong Allowance = 5 * Ms;

    private static Bvt NewBvt(int capacity = 8) => new(capacity, Mcu, Allowance);

    [Fact]
    public void Three_cpu_bound_entities_weighted_1_2_4_share_the_cpu_1_2_4_within_2_percent_over_2_seconds()
    {
        var sim = new BvtSimulation(NewBvt());
        sim.Spinner(0, 1);
        sim.Spinner(1, 2);
        sim.Spinner(2, 4);
        sim.RunUntil(2 * S);
        double total = sim.RunNs(0) + sim.RunNs(1) + sim.RunNs(2);
        Assert.Equal((double)(2 * S), total);
        for (int id = 0; id < 3; id++)
        {
            double share = sim.RunNs(id) / total, expected = (1 << id) / 7.0;
            output.WriteLine($"weight {1 << id}: share {share:F4}, expected {expected:F4}, error {(share / expected - 1) * 100:F2}%");
            Assert.InRange(share / expected, 0.98, 1.02);
        }
    }

    [Fact]
    public void A_yield_gives_the_cpu_to_another_runnable_entity_within_the_allowance_but_not_when_alone()
    {
        var bvt = NewBvt();
        Assert.Equal(BvtStatus.Ok, bvt.Add(0, 256));
        Assert.Equal(BvtStatus.Ok, bvt.Add(1, 256));
        bvt.Wake(0, 0, out _);
        Assert.Equal(0, bvt.PickNext(0).Id);
        // Alone, the yielder goes on.
        Assert.Equal(BvtStatus.Ok, bvt.Yield(0));
        Assert.Equal(0, bvt.PickNext(Mcu).Id);
        bvt.Wake(1, Mcu, out _);
        int running = bvt.PickNext(2 * Mcu).Id;
        // Within the allowance no one would be switched out; a yield switches anyway, each time.
        for (ulong t = 3; t < 13; t++)
        {
            Assert.Equal(BvtStatus.Ok, bvt.Yield(running));
            int next = bvt.PickNext(t * Mcu).Id;
            Assert.NotEqual(running, next);
            running = next;
        }
        Assert.Equal(BvtStatus.UnknownId, bvt.Yield(5));
    }

    [Fact]
    public void Equal_entities_switch_no_more_often_than_the_context_switch_allowance()
    {
        var sim = new BvtSimulation(NewBvt());
        sim.Spinner(0, 5);
        sim.Spinner(1, 5);
        sim.RunUntil(1 * S);
        Assert.All(sim.Runs.Take(sim.Runs.Count - 1), run => Assert.True(run.End - run.Start >= Allowance));
        Assert.InRange(sim.RunNs(0), S / 2 - Allowance, S / 2 + Allowance);
    }

    /// <summary>
    /// The sleeper needs 1 ms every 10 ms (a tenth of the CPU, under its quarter share), so it falls behind
    /// and wakes at A = SVT, level with the spinners that lag most. Unwarped it loses those ties to entities
    /// that have waited longer and waits behind each of them for up to its allowance: with three spinners
    /// at most 3 (C + MCU), and long enough here that it misses some of its periods. Warped its E is
    /// SVT - W, below everyone's, so it preempts at once: the bound is zero, dispatch at the instant of
    /// waking, whenever the sleeper stays within its share (A - SVT &lt; W when it wakes) and no other
    /// entity is warped.
    /// </summary>
    [Fact]
    public void A_warped_sleeper_is_dispatched_the_instant_it_wakes_while_an_unwarped_one_waits_behind_each_spinner_level_with_it()
    {
        IReadOnlyList<ulong> warped = SleeperLatencies(warpNs: 2 * Allowance);
        IReadOnlyList<ulong> unwarped = SleeperLatencies(warpNs: 0);
        output.WriteLine($"warped: max {warped.Max() / (double)Us} us, mean {warped.Average(x => (double)x) / Us:F1} us over {warped.Count} wakes");
        output.WriteLine($"unwarped: max {unwarped.Max() / (double)Us} us, mean {unwarped.Average(x => (double)x) / Us:F1} us over {unwarped.Count} wakes");
        Assert.Equal(200, warped.Count);
        Assert.Equal(0UL, warped.Max());
        Assert.True(unwarped.Count < 200);
        Assert.InRange(unwarped.Max(), Allowance, 3 * (Allowance + Mcu));
        Assert.True(unwarped.Average(x => (double)x) >= Allowance);
    }

    private static IReadOnlyList<ulong> SleeperLatencies(ulong warpNs)
    {
        var sim = new BvtSimulation(NewBvt());
        for (int id = 0; id < 3; id++) sim.Spinner(id, 1);
        sim.Periodic(3, 1, period: 10 * Ms, burst: 1 * Ms, from: 5 * Ms);
        Assert.Equal(BvtStatus.Ok, sim.Bvt.SetWarp(3, warpNs, limitNs: 5 * Ms, unwarpNs: 50 * Ms));
        sim.RunUntil(2 * S);
        return sim.Latencies(3);
    }

    [Fact]
    public void A_warped_entity_that_runs_past_its_warp_limit_loses_the_warp_until_the_unwarp_time_has_passed()
    {
        Bvt bvt = WarpedAndPlain(unwarpNs: 50 * Ms);
        bvt.Wake(0, 0, out _);
        BvtDecision first = bvt.PickNext(0);
        Assert.Equal(0, first.Id);
        Assert.Equal(3 * Ms, first.SliceNs);
        Assert.True(Info(bvt, 0, 3 * Ms - 1).IsWarped);

        bvt.PickNext(3 * Ms);
        BvtInfo after = Info(bvt, 0, 3 * Ms);
        Assert.False(after.IsWarped);
        Assert.Equal(after.ActualVirtualTime, after.EffectiveVirtualTime);

        bvt.Block(0, 4 * Ms);
        bvt.Wake(0, 10 * Ms, out _);
        Assert.False(Info(bvt, 0, 53 * Ms - 1).IsWarped);
        Assert.True(Info(bvt, 0, 53 * Ms).IsWarped);
    }

    [Fact]
    public void While_an_entity_waits_out_its_unwarp_time_no_slice_runs_past_the_moment_it_may_warp_again()
    {
        Bvt bvt = WarpedAndPlain(unwarpNs: 7 * Ms);
        bvt.Wake(0, 0, out _);
        ulong now = bvt.PickNext(0).SliceNs;
        BvtDecision stillZero = bvt.PickNext(now);
        Assert.Equal(0, stillZero.Id);
        Assert.Equal(2 * Ms, stillZero.SliceNs);
        now += stillZero.SliceNs;
        BvtDecision other = bvt.PickNext(now);
        Assert.Equal(1, other.Id);
        Assert.Equal(10 * Ms - now, other.SliceNs);
        Assert.Equal(0, bvt.PickNext(10 * Ms).Id);
    }

    [Fact]
    public void A_warped_entity_that_blocks_within_its_limit_keeps_its_warp_wake_after_wake()
    {
        Bvt bvt = WarpedAndPlain(unwarpNs: 50 * Ms);
        for (ulong round = 0; round < 20; round++)
        {
            ulong now = round * 4 * Ms;
            bvt.Wake(0, now, out ulong repickBy);
            Assert.Equal(now, repickBy);
            BvtDecision decision = bvt.PickNext(now);
            Assert.Equal(0, decision.Id);
            Assert.Equal(3 * Ms, decision.SliceNs);
            Assert.True(Info(bvt, 0, now).IsWarped);
            bvt.Block(0, now + 2 * Ms);
            Assert.Equal(1, bvt.PickNext(now + 2 * Ms).Id);
        }
    }

    /// <summary>
    /// Without the rule A = max(A, SVT) the sleeper would come back a second of virtual time behind and
    /// run alone for about a second. With it, it wakes level with the laggard and its first run is bounded
    /// by the spread of E among the runners (at most C / w) plus its own allowance: 2C + one MCU.
    /// </summary>
    [Fact]
    public void A_sleeper_does_not_bank_credit_after_sleeping_a_second_it_runs_at_most_2C_before_others_run()
    {
        var sim = new BvtSimulation(NewBvt());
        sim.Spinner(0, 1);
        sim.Spinner(1, 1);
        sim.Spinner(2, 1, from: 1 * S);
        sim.RunUntil(1 * S);
        Assert.Equal(BvtStatus.Ok, sim.Bvt.Query(2, 1 * S, out BvtInfo woken));
        Assert.Equal(sim.Bvt.SchedulerVirtualTime, woken.ActualVirtualTime);
        sim.RunUntil(1 * S + 300 * Ms);
        (int Id, ulong Start, ulong End) firstRun = sim.Runs.First(run => run.Id == 2);
        output.WriteLine($"first run after waking: {(firstRun.End - firstRun.Start) / (double)Ms} ms; " +
            $"CPU in the 300 ms after waking: {sim.RunNs(2) / (double)Ms} ms");
        Assert.True(firstRun.End - firstRun.Start <= 2 * Allowance + Mcu);
        Assert.InRange(sim.RunNs(2), 100 * Ms - 2 * Allowance, 100 * Ms + 2 * Allowance);
    }

    [Fact]
    public void Changing_a_weight_changes_the_shares_from_then_on()
    {
        var sim = new BvtSimulation(NewBvt());
        sim.Spinner(0, 1);
        sim.Spinner(1, 1);
        sim.RunUntil(1 * S);
        ulong zeroBefore = sim.RunNs(0), oneBefore = sim.RunNs(1);
        Assert.Equal(BvtStatus.Ok, sim.Bvt.SetWeight(1, 3));
        sim.RunUntil(3 * S);
        double ratio = (sim.RunNs(1) - oneBefore) / (double)(sim.RunNs(0) - zeroBefore);
        output.WriteLine($"shares after the change: 1 : {ratio:F3}");
        Assert.InRange(ratio, 2.9, 3.1);
    }

    [Fact]
    public void An_idle_cpu_is_reported_and_a_wake_then_asks_for_a_pick_at_once()
    {
        Bvt bvt = NewBvt();
        BvtDecision idle = bvt.PickNext(0);
        Assert.True(idle.IsIdle);
        Assert.Equal(bvt.MaxSliceNs, idle.SliceNs);
        Assert.Equal(BvtStatus.Ok, bvt.Add(4, 100));
        Assert.Equal(BvtStatus.Ok, bvt.Wake(4, 7 * Ms, out ulong repickBy));
        Assert.Equal(7 * Ms, repickBy);
        BvtDecision lone = bvt.PickNext(7 * Ms);
        Assert.Equal(4, lone.Id);
        Assert.Equal(10 * Allowance, lone.SliceNs);
    }

    [Fact]
    public void Waking_a_runnable_entity_and_blocking_a_blocked_one_change_nothing()
    {
        Bvt bvt = NewBvt();
        bvt.Add(0, 1);
        bvt.Add(1, 1);
        bvt.Wake(0, 0, out _);
        BvtDecision decision = bvt.PickNext(0);
        Assert.Equal(BvtStatus.Ok, bvt.Wake(0, 1 * Ms, out ulong repickBy));
        Assert.Equal(decision.SliceNs, repickBy);
        Assert.Equal(BvtStatus.Ok, bvt.Block(1, 1 * Ms));
        Assert.Equal(0, bvt.Running);
        Assert.False(Info(bvt, 1, 1 * Ms).IsRunnable);
    }

    [Fact]
    public void Bad_ids_weights_and_warps_are_refused_with_a_status_and_change_nothing()
    {
        Bvt bvt = NewBvt(capacity: 4);
        Assert.Equal(BvtStatus.BadId, bvt.Add(-1, 1));
        Assert.Equal(BvtStatus.BadId, bvt.Add(4, 1));
        Assert.Equal(BvtStatus.BadWeight, bvt.Add(0, 0));
        Assert.Equal(BvtStatus.BadWeight, bvt.Add(0, Bvt.MaxWeight + 1));
        Assert.Equal(BvtStatus.UnknownId, bvt.Wake(0, 0, out _));
        Assert.Equal(BvtStatus.Ok, bvt.Add(0, Bvt.MaxWeight));
        Assert.Equal(BvtStatus.IdInUse, bvt.Add(0, 1));
        Assert.Equal(BvtStatus.BadWeight, bvt.SetWeight(0, 0));
        Assert.Equal(BvtStatus.BadWarp, bvt.SetWarp(0, Bvt.MaxTimeParameterNs + 1, 0, 0));
        Assert.Equal(BvtStatus.BadWarp, bvt.SetWarp(0, 1 * Ms, 1 * Ms, 0));
        Assert.Equal(BvtStatus.UnknownId, bvt.Block(1, 0));
        Assert.Equal(BvtStatus.BadId, bvt.Query(9, 0, out _));
        Assert.Equal(BvtStatus.Ok, bvt.Remove(0));
        Assert.Equal(BvtStatus.UnknownId, bvt.Remove(0));
        Assert.True(bvt.PickNext(0).IsIdle);
    }

    [Fact]
    public void Removing_the_running_entity_frees_the_cpu()
    {
        Bvt bvt = TwoAwake();
        int first = bvt.PickNext(0).Id;
        Assert.Equal(BvtStatus.Ok, bvt.Remove(first));
        Assert.Equal(Bvt.None, bvt.Running);
        Assert.Equal(1 - first, bvt.PickNext(1 * Ms).Id);
    }

    /// <summary>
    /// At weight 1 virtual time grows by 2^16 per ns, so A would pass 2^62 after about 20 hours; the largest
    /// allowance keeps this to a few hundred picks. Virtual times are moved down as SVT passes 2^61.
    /// </summary>
    [Fact]
    public void Virtual_time_is_rebased_so_a_hundred_hours_at_weight_1_neither_overflows_nor_skews_shares()
    {
        var sim = new BvtSimulation(new Bvt(4, Mcu, Bvt.MaxTimeParameterNs));
        sim.Spinner(0, 1);
        sim.Spinner(1, 1);
        sim.Spinner(2, 1, from: 100UL * 3600 * S);
        sim.RunUntil(100UL * 3600 * S);
        Assert.InRange(sim.RunNs(0) / (double)sim.RunNs(1), 0.99, 1.01);
        Assert.InRange(sim.Bvt.SchedulerVirtualTime, 0, 1L << 61);
        Assert.Equal(BvtStatus.Ok, sim.Bvt.Query(2, sim.Now, out BvtInfo woken));
        Assert.Equal(sim.Bvt.SchedulerVirtualTime, woken.ActualVirtualTime);
    }

    [Fact]
    public void A_run_reported_as_absurdly_long_saturates_virtual_time_instead_of_wrapping()
    {
        Bvt bvt = TwoAwake();
        Assert.Equal(0, bvt.PickNext(0).Id);
        Assert.Equal(BvtStatus.Ok, bvt.Query(0, ulong.MaxValue, out BvtInfo info));
        Assert.Equal(Bvt.MaxVirtualTime, info.ActualVirtualTime);
        Assert.Equal(1, bvt.PickNext(ulong.MaxValue / 2).Id);
    }

    /// <summary>Entities 0 and 1, both of weight 1 and awake since time zero.</summary>
    private static Bvt TwoAwake()
    {
        Bvt bvt = NewBvt();
        Assert.Equal(BvtStatus.Ok, bvt.Add(0, 1));
        Assert.Equal(BvtStatus.Ok, bvt.Add(1, 1));
        bvt.Wake(0, 0, out _);
        bvt.Wake(1, 0, out _);
        return bvt;
    }

    /// <summary>Entity 0 with a warp of 20 ms and a limit of 3 ms, still blocked; entity 1 plain and awake.</summary>
    private static Bvt WarpedAndPlain(ulong unwarpNs)
    {
        Bvt bvt = NewBvt();
        Assert.Equal(BvtStatus.Ok, bvt.Add(0, 1));
        Assert.Equal(BvtStatus.Ok, bvt.Add(1, 1));
        Assert.Equal(BvtStatus.Ok, bvt.SetWarp(0, 20 * Ms, limitNs: 3 * Ms, unwarpNs: unwarpNs));
        bvt.Wake(1, 0, out _);
        return bvt;
    }

    private static BvtInfo Info(Bvt bvt, int id, ulong now)
    {
        Assert.Equal(BvtStatus.Ok, bvt.Query(id, now, out BvtInfo info));
        return info;
    }

    // The property: random sequences of operations, some with bad ids, weights and warps, checked against
    // the dispatch rule after every pick.

    private const int Capacity = 6;

    private enum OpKind { Add, Remove, Wake, Block, Pick, SetWarp, SetWeight }

    private readonly record struct Op(OpKind Kind, int Id, uint Weight, ulong Dt, ulong Warp, ulong Limit, ulong Unwarp);

    private static Gen<ulong> Times() =>
        Gen.Frequency(
            (10, Gen.Choose(0, 2000).Select(us => (ulong)us * Us)),
            (10, Gen.Choose(0, 20000).Select(us => (ulong)us * Us)),
            (1, Gen.Constant(1UL << 46)));

    private static Gen<OpKind> Kinds() =>
        Gen.Frequency(
            (2, Gen.Constant(OpKind.Add)), (1, Gen.Constant(OpKind.Remove)), (6, Gen.Constant(OpKind.Wake)),
            (3, Gen.Constant(OpKind.Block)), (6, Gen.Constant(OpKind.Pick)), (2, Gen.Constant(OpKind.SetWarp)),
            (1, Gen.Constant(OpKind.SetWeight)));

    private static Gen<int> Ids() =>
        Gen.Frequency((1, Gen.Constant(-1)), (1, Gen.Constant(Capacity)), (16, Gen.Choose(0, Capacity - 1)));

    /// <summary>Adds for most ids first, so that most sequences have several entities competing.</summary>
    private static Arbitrary<Op[]> Ops()
    {
        Gen<Op> op =
            from kind in Kinds()
            from id in Ids()
            from weight in Gen.Elements(0u, 1u, 2u, 3u, 7u, 256u, Bvt.MaxWeight, Bvt.MaxWeight + 1)
            from dt in Times()
            from warp in Gen.Elements(0UL, 1 * Ms, 10 * Ms, 1 * S, Bvt.MaxTimeParameterNs + 1)
            from limit in Gen.Elements(0UL, 500 * Us, 3 * Ms)
            from unwarp in Gen.Elements(0UL, 1 * Ms, 50 * Ms)
            select new Op(kind, id, weight, dt, warp, limit, unwarp);
        Gen<Op> add = from id in Gen.Choose(0, Capacity - 1)
                      from weight in Gen.Elements(1u, 2u, 5u, 256u, Bvt.MaxWeight)
                      select new Op(OpKind.Add, id, weight, 0, 0, 0, 0);
        return (from prefix in add.ArrayOf(Capacity)
                from length in Gen.Choose(0, 300)
                from rest in op.ArrayOf(length)
                select prefix.Concat(rest).ToArray()).ToArbitrary();
    }

    [FsCheck.Xunit.Property(MaxTest = 500)]
    public Property Random_operations_never_throw_and_every_pick_follows_the_dispatch_rule() =>
        Prop.ForAll(Ops(), ops =>
        {
            var model = new Model(NewBvt(Capacity));
            foreach (Op op in ops) model.Apply(op);
        });

    /// <summary>What the test expects of the scheduler, tracked beside it.</summary>
    private sealed class Model(Bvt bvt)
    {
        private readonly bool[] _present = new bool[Capacity];
        private readonly bool[] _runnable = new bool[Capacity];
        private readonly bool[] _woken = new bool[Capacity];
        private ulong _now;

        public void Apply(Op op)
        {
            _now += op.Dt;
            bool valid = op.Id >= 0 && op.Id < Capacity;
            bool known = valid && _present[op.Id];
            BvtStatus expected = !valid ? BvtStatus.BadId : known ? BvtStatus.Ok : BvtStatus.UnknownId;
            bool goodWeight = op.Weight >= 1 && op.Weight <= Bvt.MaxWeight;
            switch (op.Kind)
            {
                case OpKind.Add:
                    BvtStatus added = !valid ? BvtStatus.BadId : known ? BvtStatus.IdInUse : goodWeight ? BvtStatus.Ok : BvtStatus.BadWeight;
                    Assert.Equal(added, bvt.Add(op.Id, op.Weight));
                    if (added == BvtStatus.Ok) _present[op.Id] = true;
                    break;
                case OpKind.Remove:
                    Assert.Equal(expected, bvt.Remove(op.Id));
                    if (known) _present[op.Id] = _runnable[op.Id] = _woken[op.Id] = false;
                    break;
                case OpKind.Wake:
                    Assert.Equal(expected, bvt.Wake(op.Id, _now, out ulong repickBy));
                    Assert.True(repickBy >= _now);
                    if (!known || _runnable[op.Id]) break;
                    _runnable[op.Id] = _woken[op.Id] = true;
                    Assert.True(Info(bvt, op.Id, _now).ActualVirtualTime >= bvt.SchedulerVirtualTime);
                    break;
                case OpKind.Block:
                    Assert.Equal(expected, bvt.Block(op.Id, _now));
                    if (known) _runnable[op.Id] = _woken[op.Id] = false;
                    break;
                case OpKind.Pick:
                    Pick();
                    break;
                case OpKind.SetWarp:
                    bool goodWarp = op.Warp <= Bvt.MaxTimeParameterNs && (op.Warp == 0 || op.Limit == 0 || op.Unwarp != 0);
                    Assert.Equal(known && !goodWarp ? BvtStatus.BadWarp : expected, bvt.SetWarp(op.Id, op.Warp, op.Limit, op.Unwarp));
                    break;
                case OpKind.SetWeight:
                    Assert.Equal(known && !goodWeight ? BvtStatus.BadWeight : expected, bvt.SetWeight(op.Id, op.Weight));
                    break;
            }
        }

        private void Pick()
        {
            int previous = bvt.Running;
            var e = new long[Capacity];
            var allowance = new long[Capacity];
            for (int id = 0; id < Capacity; id++)
            {
                if (!_runnable[id]) continue;
                BvtInfo info = Info(bvt, id, _now);
                Assert.True(info.IsRunnable);
                e[id] = info.EffectiveVirtualTime;
                allowance[id] = (long)(Allowance * (ulong)Bvt.VirtualScale / info.Weight);
            }
            BvtDecision decision = bvt.PickNext(_now);
            CheckSlice(decision);
            if (decision.IsIdle)
            {
                Assert.DoesNotContain(true, _runnable);
                return;
            }
            Assert.True(_runnable[decision.Id]);
            var others = Enumerable.Range(0, Capacity).Where(id => _runnable[id] && id != decision.Id).ToList();
            bool Entitled(int id) => e[id] <= e[previous] - allowance[previous] || (_woken[id] && e[id] <= e[previous]);
            if (decision.Id == previous)
                Assert.DoesNotContain(others, Entitled);
            else
                Assert.All(others, id => Assert.True(e[decision.Id] <= e[id]));
            if (previous != Bvt.None && decision.Id != previous) Assert.Contains(others.Append(decision.Id), Entitled);
            Array.Clear(_woken);
            CheckVirtualTimes();
        }

        private void CheckSlice(BvtDecision decision)
        {
            Assert.True(decision.SliceNs >= Mcu && decision.SliceNs <= bvt.MaxSliceNs);
            Assert.Equal(0UL, decision.SliceNs % Mcu);
        }

        private void CheckVirtualTimes()
        {
            for (int id = 0; id < Capacity; id++)
            {
                if (!_present[id]) continue;
                BvtInfo info = Info(bvt, id, _now);
                Assert.InRange(info.ActualVirtualTime, 0, Bvt.MaxVirtualTime);
                if (_runnable[id]) Assert.True(info.ActualVirtualTime >= bvt.SchedulerVirtualTime);
            }
        }
    }
}

using Keel.Kernel.Scheduling;

namespace Keel.Kernel.Tests;

/// <summary>
/// A deterministic dispatcher around <see cref="Bvt"/>: a fake clock that jumps from event to event
/// (a slice ending, a sleeper waking, the runner finishing its burst), reacting to each as a tickless
/// kernel with a one-shot timer would. It calls PickNext when a slice ends, when the runner blocks, and at
/// the time Wake reports. It records who ran when, and the delay from each wake to the dispatch that
/// followed it.
/// </summary>
internal sealed class BvtSimulation
{
    private const ulong Never = ulong.MaxValue;

    private readonly Load[] _loads;

    public BvtSimulation(Bvt bvt)
    {
        Bvt = bvt;
        _loads = new Load[bvt.Capacity];
        for (int i = 0; i < _loads.Length; i++) _loads[i] = new Load();
    }

    public Bvt Bvt { get; }

    public ulong Now { get; private set; }

    /// <summary>Every stretch of running, consecutive stretches of one entity merged.</summary>
    public List<(int Id, ulong Start, ulong End)> Runs { get; } = new();

    /// <summary>An entity that wants the CPU all the time from <paramref name="from"/> on.</summary>
    public void Spinner(int id, uint weight, ulong from = 0) => Periodic(id, weight, 0, Never, from);

    /// <summary>An entity that needs <paramref name="burst"/> of CPU every <paramref name="period"/>, then blocks.</summary>
    public void Periodic(int id, uint weight, ulong period, ulong burst, ulong from)
    {
        Assert.Equal(BvtStatus.Ok, Bvt.Add(id, weight));
        _loads[id] = new Load { Present = true, Period = period, Burst = burst, NextWake = from };
    }

    public IReadOnlyList<ulong> Latencies(int id) => _loads[id].Latencies;

    public ulong RunNs(int id)
    {
        Assert.Equal(BvtStatus.Ok, Bvt.Query(id, Now, out BvtInfo info));
        return info.RunNs;
    }

    public void RunUntil(ulong end)
    {
        DeliverWakes();
        while (Now < end)
        {
            BvtDecision decision = Bvt.PickNext(Now);
            Assert.True(decision.SliceNs >= Bvt.McuNs && decision.SliceNs <= Bvt.MaxSliceNs);
            NoteDispatch(decision.Id);
            RunSlice(decision.Id, decision.IsIdle ? Never : Now + decision.SliceNs, end);
        }
    }

    /// <summary>Runs <paramref name="id"/> (or idles) until the slice ends, it blocks, or a wake asks for a pick.</summary>
    private void RunSlice(int id, ulong deadline, ulong end)
    {
        while (true)
        {
            ulong next = Math.Min(Math.Min(deadline, end), NextWake());
            if (id != Bvt.None) next = Math.Min(next, Saturating(Now, _loads[id].Need));
            Record(id, next);
            if (id != Bvt.None) _loads[id].Need -= Math.Min(_loads[id].Need, next - Now);
            Now = next;
            deadline = Math.Min(deadline, DeliverWakes());
            if (id != Bvt.None && _loads[id].Need == 0)
            {
                Assert.Equal(BvtStatus.Ok, Bvt.Block(id, Now));
                return;
            }
            if (Now >= deadline || Now >= end) return;
        }
    }

    /// <summary>Wakes every load due now; returns the earliest time Wake asked PickNext to run by.</summary>
    private ulong DeliverWakes()
    {
        ulong repick = Never;
        for (int id = 0; id < _loads.Length; id++)
        {
            Load load = _loads[id];
            if (!load.Present || load.NextWake != Now) continue;
            load.NextWake = load.Period == 0 ? Never : Now + load.Period;
            bool wasBlocked = load.Need == 0;
            load.Need = Saturating(load.Need, load.Burst);
            if (!wasBlocked) continue;
            Assert.Equal(BvtStatus.Ok, Bvt.Wake(id, Now, out ulong repickBy));
            Assert.True(repickBy >= Now);
            load.WokenAt = Now;
            repick = Math.Min(repick, repickBy);
        }
        return repick;
    }

    private void NoteDispatch(int id)
    {
        if (id == Bvt.None || _loads[id].WokenAt == Never) return;
        _loads[id].Latencies.Add(Now - _loads[id].WokenAt);
        _loads[id].WokenAt = Never;
    }

    private ulong NextWake()
    {
        ulong soonest = Never;
        foreach (Load load in _loads)
            if (load.Present) soonest = Math.Min(soonest, load.NextWake);
        return soonest;
    }

    private void Record(int id, ulong until)
    {
        if (id == Bvt.None || until == Now) return;
        if (Runs.Count > 0 && Runs[^1].Id == id && Runs[^1].End == Now) Runs[^1] = (id, Runs[^1].Start, until);
        else Runs.Add((id, Now, until));
    }

    private static ulong Saturating(ulong a, ulong b) => a > Never - b ? Never : a + b;

    private sealed class Load
    {
        public bool Present;
        public ulong Period;
        public ulong Burst;
        public ulong NextWake = Never;
        public ulong Need;
        public ulong WokenAt = Never;
        public List<ulong> Latencies { get; } = new();
    }
}

using System;

namespace Keel.Kernel.Scheduling
{
    /// <summary>
    /// Borrowed Virtual Time scheduling (Duda and Cheriton, "Borrowed-Virtual-Time (BVT) scheduling:
    /// supporting latency-sensitive threads in a general-purpose scheduler", SOSP 1999), the policy the Xen
    /// paper (SOSP 2003) schedules domains with and Xen 2.0/3.0 carried as common/sched_bvt.c. One instance
    /// decides for one CPU; it is plain logic with no timers and no locks, so the caller serialises calls.
    ///
    /// The rules, as the paper states them and Xen implements them:
    /// - Virtual time. Each entity has a weight w and an actual virtual time A that advances by t / w when it
    ///   runs t ns, charged in whole minimum charging units (MCU). Over time entities get CPU in proportion
    ///   to their weights, because the one with the lowest virtual time runs.
    /// - Warp. An entity may have a warp W; while warped its effective virtual time is E = A - W, so it is
    ///   dispatched ahead of entities whose E is higher: it borrows against its future share without
    ///   changing that share. A warp limit L ends the warp of an entity that runs warped for L without
    ///   blocking, and the unwarp requirement U keeps it unwarped for U after that.
    /// - Context switch allowance C. The running entity i keeps the CPU until some runnable j has
    ///   E_j &lt;= E_i - C / w_i: among entities that stay runnable, the runner is switched out once it is
    ///   C of its own running ahead of the next, not as soon as it passes it by an MCU. An entity that has
    ///   just become runnable competes without C: it preempts as soon as E_j &lt;= E_i (the paper; Xen's
    ///   bvt_wake reschedules when the woken evt is at or below the current one).
    /// - Scheduler virtual time. SVT is the minimum A over runnable entities. An entity that wakes gets
    ///   A = max(A, SVT) (the paper; Xen's bvt_wake), so time spent blocked is not credit it can spend
    ///   later. The paper applies this to voluntary sleeps; Xen, and this class, to every wake.
    ///
    /// How the caller drives it: Add an entity per vCPU (it starts blocked), Wake it when it has work,
    /// Block it when it yields or waits. Call PickNext whenever the CPU is to be given out: when the slice of
    /// the last decision ends, when the running entity blocks, and when Wake reports that the woken entity
    /// must be dispatched now; PickNext charges the entity it last chose for the time since then. A one-shot
    /// timer set to the slice's end (or to an earlier time Wake reports) is all the timing support it needs;
    /// with a periodic tick, calling PickNext on every tick is also correct, only coarser.
    ///
    /// Arguments that come from outside the kernel (ids, weights, warp parameters) are checked and refused
    /// with a <see cref="BvtStatus"/>; nothing here throws after construction.
    /// </summary>
    public sealed class Bvt
    {
        /// <summary>The id of no entity: PickNext's answer when the CPU is to idle.</summary>
        public const int None = -1;

        public const int MaxCapacity = 4096;

        public const uint MaxWeight = 65535;

        /// <summary>Virtual time units per ns of running at weight 1; a power of two above MaxWeight.</summary>
        public const long VirtualScale = 65536;

        public const ulong MinMcuNs = 1000;

        public const ulong MaxMcuNs = 1000000000;

        /// <summary>The largest C, warp, warp limit and unwarp time accepted (about 18 minutes).</summary>
        public const ulong MaxTimeParameterNs = 1UL << 40;

        /// <summary>A never exceeds this; the charge of an absurdly long run saturates here.</summary>
        public const long MaxVirtualTime = 1L << 62;

        /// <summary>When SVT reaches this, every A is moved down by SVT (Xen subtracted 0xe0000000).</summary>
        private const long RebaseAt = 1L << 61;

        /// <summary>A lone runner's slice, in allowances: Xen gave it 10 * ctx_allow.</summary>
        private const ulong LoneSliceAllowances = 10;

        private readonly BvtEntity[] _entities;
        private readonly ulong _mcuNs;
        private readonly ulong _allowanceNs;
        private readonly ulong _maxSliceNs;
        private long _svt;
        private int _running = None;

        /// <summary>One past the highest id ever added: the scans stop there, so a large capacity costs nothing until used.</summary>
        private int _scanLimit;

        /// <summary>The runner that yielded since the last PickNext, or None.</summary>
        private int _yielder = None;
        private ulong _dispatchedAt;
        private ulong _sliceEnd;

        /// <summary>
        /// A scheduler for ids 0..capacity-1. The MCU and C are the kernel's own constants, so values outside
        /// their ranges are a programming error and throw (which stops the machine).
        /// </summary>
        public Bvt(int capacity, ulong mcuNs, ulong contextSwitchAllowanceNs)
        {
            if (capacity < 1 || capacity > MaxCapacity) throw new ArgumentOutOfRangeException(nameof(capacity));
            if (mcuNs < MinMcuNs || mcuNs > MaxMcuNs) throw new ArgumentOutOfRangeException(nameof(mcuNs));
            if (contextSwitchAllowanceNs < mcuNs || contextSwitchAllowanceNs > MaxTimeParameterNs)
                throw new ArgumentOutOfRangeException(nameof(contextSwitchAllowanceNs));
            _entities = new BvtEntity[capacity];
            _mcuNs = mcuNs;
            _allowanceNs = contextSwitchAllowanceNs;
            _maxSliceNs = RoundUpToMcu(LoneSliceAllowances * contextSwitchAllowanceNs);
        }

        public int Capacity => _entities.Length;

        public ulong McuNs => _mcuNs;

        public ulong ContextSwitchAllowanceNs => _allowanceNs;

        /// <summary>The longest slice PickNext hands out: that of a lone runner, or of the idle CPU.</summary>
        public ulong MaxSliceNs => _maxSliceNs;

        /// <summary>SVT as of the last Wake, Block or PickNext.</summary>
        public long SchedulerVirtualTime => _svt;

        /// <summary>The entity PickNext last chose, until it blocks or is removed; None otherwise.</summary>
        public int Running => _running;

        /// <summary>A new, blocked entity. Its A starts at SVT, as Xen's bvt_init_vcpu starts a vCPU.</summary>
        public BvtStatus Add(int id, uint weight)
        {
            if (id < 0 || id >= _entities.Length) return BvtStatus.BadId;
            if (_entities[id].Present) return BvtStatus.IdInUse;
            if (weight == 0 || weight > MaxWeight) return BvtStatus.BadWeight;
            ref BvtEntity entity = ref _entities[id];
            entity = default;
            entity.Present = true;
            entity.A = _svt;
            entity.SetWeight(weight, _mcuNs, _allowanceNs);
            if (id >= _scanLimit) _scanLimit = id + 1;
            return BvtStatus.Ok;
        }

        /// <summary>Forgets an entity. Removing the running one leaves the CPU to be given out by PickNext.</summary>
        public BvtStatus Remove(int id)
        {
            BvtStatus status = Check(id);
            if (status != BvtStatus.Ok) return status;
            if (id == _running) _running = None;
            _entities[id] = default;
            return BvtStatus.Ok;
        }

        /// <summary>A new share. A running entity's current run is charged at the new rate.</summary>
        public BvtStatus SetWeight(int id, uint weight)
        {
            BvtStatus status = Check(id);
            if (status != BvtStatus.Ok) return status;
            if (weight == 0 || weight > MaxWeight) return BvtStatus.BadWeight;
            _entities[id].SetWeight(weight, _mcuNs, _allowanceNs);
            return BvtStatus.Ok;
        }

        /// <summary>
        /// The warp W (in ns of the entity's own running: how much of its future CPU it may borrow), the
        /// warp limit L (zero: none) and the unwarp requirement U. A warp of zero turns warping off. A limit
        /// needs an unwarp time, or the limit would withdraw nothing. A pending unwarp penalty stands.
        /// </summary>
        public BvtStatus SetWarp(int id, ulong warpNs, ulong limitNs, ulong unwarpNs)
        {
            BvtStatus status = Check(id);
            if (status != BvtStatus.Ok) return status;
            if (warpNs > MaxTimeParameterNs || limitNs > MaxTimeParameterNs || unwarpNs > MaxTimeParameterNs)
                return BvtStatus.BadWarp;
            if (warpNs != 0 && limitNs != 0 && unwarpNs == 0) return BvtStatus.BadWarp;
            _entities[id].SetWarp(warpNs, limitNs, unwarpNs);
            return BvtStatus.Ok;
        }

        /// <summary>
        /// Makes an entity runnable. <paramref name="repickBy"/> is when PickNext must run at the latest:
        /// now if the CPU is idle or the woken entity preempts the running one, otherwise the time the running
        /// one's allowance over it runs out, never later than the current slice's end. Waking a runnable
        /// entity changes nothing.
        /// </summary>
        public BvtStatus Wake(int id, ulong now, out ulong repickBy)
        {
            repickBy = _running == None ? now : Max(now, _sliceEnd);
            BvtStatus status = Check(id);
            if (status != BvtStatus.Ok || _entities[id].Runnable) return status;
            RefreshSvt(now);
            ref BvtEntity entity = ref _entities[id];
            if (entity.A < _svt) entity.A = _svt;
            entity.Runnable = true;
            entity.Woken = true;
            entity.WarpedRunNs = 0;
            entity.WaitingSince = now;
            repickBy = RepickAfterWake(id, now);
            return BvtStatus.Ok;
        }

        /// <summary>
        /// Makes an entity not runnable, charging it first if it is the running one (which leaves the CPU to
        /// be given out by PickNext). Blocking a blocked entity changes nothing.
        /// </summary>
        public BvtStatus Block(int id, ulong now)
        {
            BvtStatus status = Check(id);
            if (status != BvtStatus.Ok || !_entities[id].Runnable) return status;
            ref BvtEntity entity = ref _entities[id];
            if (id == _running)
            {
                entity.Charge(_dispatchedAt, now, _mcuNs);
                _running = None;
            }
            RefreshSvt(now);
            entity.Runnable = false;
            entity.Woken = false;
            return BvtStatus.Ok;
        }

        /// <summary>
        /// Charges the entity chosen last time for the time since, then chooses: the running entity stays
        /// while within its allowance, otherwise the one with the lowest E runs. Ties go to the one waiting
        /// longest, then the lowest id (Xen's run queue favoured the one woken last; waiting longest is
        /// fairer to the entities level with it, which waking at SVT makes common). The slice lasts until the chosen one's E passes the runner-up's by
        /// its allowance, cut short where its warp limit ends or another entity's unwarp penalty ends.
        /// </summary>
        public BvtDecision PickNext(ulong now)
        {
            int previous = _running;
            if (previous != None) _entities[previous].Charge(_dispatchedAt, now, _mcuNs);
            _running = None;
            RefreshSvt(now);
            RebaseIfDue();
            Choice choice = Choose(previous, now);
            _yielder = None;
            ForgetWakeups();
            if (previous != None && choice.Next != previous) _entities[previous].WaitingSince = now;
            ulong slice = choice.Next == None ? _maxSliceNs : SliceFor(choice, now);
            _running = choice.Next;
            _dispatchedAt = now;
            _sliceEnd = now + slice;
            return new BvtDecision(choice.Next, slice);
        }

        /// <summary>
        /// The running entity gives the CPU away (SCHEDOP_yield): the next PickNext chooses another runnable
        /// entity, the lowest E among them, even within the runner's allowance; with nobody else runnable the
        /// runner goes on. Its virtual time is charged as usual, so yielding neither costs nor earns share.
        /// </summary>
        public BvtStatus Yield(int id)
        {
            BvtStatus status = Check(id);
            if (status == BvtStatus.Ok && id == _running) _yielder = id;
            return status;
        }

        /// <summary>An entity's state; the running one as if charged up to <paramref name="now"/>.</summary>
        public BvtStatus Query(int id, ulong now, out BvtInfo info)
        {
            info = default;
            BvtStatus status = Check(id);
            if (status != BvtStatus.Ok) return status;
            BvtEntity entity = Projected(id, now);
            info = new BvtInfo(entity.Weight, entity.Runnable, id == _running, entity.IsWarped(now),
                entity.A, entity.Effective(now), entity.RunNs);
            return BvtStatus.Ok;
        }

        private BvtStatus Check(int id)
        {
            if (id < 0 || id >= _entities.Length) return BvtStatus.BadId;
            return _entities[id].Present ? BvtStatus.Ok : BvtStatus.UnknownId;
        }

        /// <summary>A copy of an entity, charged up to now if it is running; the array is not changed.</summary>
        private BvtEntity Projected(int id, ulong now)
        {
            BvtEntity entity = _entities[id];
            if (id == _running) entity.Charge(_dispatchedAt, now, _mcuNs);
            return entity;
        }

        /// <summary>SVT = min A over runnable entities; with none runnable it keeps its last value.</summary>
        private void RefreshSvt(ulong now)
        {
            bool any = false;
            long min = 0;
            for (int i = 0; i < _scanLimit; i++)
            {
                if (!_entities[i].Runnable) continue;
                long a = i == _running ? Projected(i, now).A : _entities[i].A;
                if (!any || a < min) min = a;
                any = true;
            }
            if (any) _svt = min;
        }

        /// <summary>
        /// Keeps virtual times far from overflow by moving them all down by SVT, which changes no
        /// difference between runnable entities. A blocked entity below SVT lands at zero, the new SVT: it
        /// would be raised to SVT on waking anyway. Called only when nothing is running, so no charge is
        /// pending.
        /// </summary>
        private void RebaseIfDue()
        {
            if (_svt < RebaseAt) return;
            long shift = _svt;
            for (int i = 0; i < _scanLimit; i++)
            {
                ref BvtEntity entity = ref _entities[i];
                if (entity.Present) entity.A = entity.A > shift ? entity.A - shift : 0;
            }
            _svt = 0;
        }

        /// <summary>
        /// The paper's dispatch rule with the allowance: the previous runner stays unless another entity's
        /// E is at or below its E minus C / w, or an entity that has just woken is at or below its E.
        /// </summary>
        private Choice Choose(int previous, ulong now)
        {
            Ranking others = Rank(previous, now);
            if (previous == None) return new Choice(others.Lowest, others.HasSecond, others.SecondE);
            ref BvtEntity runner = ref _entities[previous];
            long runnerE = runner.Effective(now);
            bool preempted = others.Lowest != None &&
                (previous == _yielder || others.LowestE <= runnerE - runner.AllowanceAdvance || (others.HasWoken && others.LowestWokenE <= runnerE));
            if (!preempted) return new Choice(previous, others.Lowest != None, others.LowestE);
            long runnerUpE = others.HasSecond && others.SecondE < runnerE ? others.SecondE : runnerE;
            return new Choice(others.Lowest, true, runnerUpE);
        }

        /// <summary>The lowest and second-lowest E among runnable entities but one, and the lowest just woken.</summary>
        private Ranking Rank(int excluded, ulong now)
        {
            Ranking ranking = default;
            ranking.Lowest = None;
            for (int i = 0; i < _scanLimit; i++)
            {
                ref BvtEntity entity = ref _entities[i];
                if (!entity.Runnable || i == excluded) continue;
                long e = entity.Effective(now);
                if (entity.Woken && (!ranking.HasWoken || e < ranking.LowestWokenE))
                {
                    ranking.HasWoken = true;
                    ranking.LowestWokenE = e;
                }
                if (ranking.Lowest == None || e < ranking.LowestE ||
                    (e == ranking.LowestE && entity.WaitingSince < ranking.LowestWaitingSince))
                {
                    ranking.HasSecond = ranking.Lowest != None;
                    ranking.SecondE = ranking.LowestE;
                    ranking.Lowest = i;
                    ranking.LowestE = e;
                    ranking.LowestWaitingSince = entity.WaitingSince;
                }
                else if (!ranking.HasSecond || e < ranking.SecondE)
                {
                    ranking.HasSecond = true;
                    ranking.SecondE = e;
                }
            }
            return ranking;
        }

        private void ForgetWakeups()
        {
            for (int i = 0; i < _scanLimit; i++) _entities[i].Woken = false;
        }

        private ulong SliceFor(Choice choice, ulong now)
        {
            ref BvtEntity next = ref _entities[choice.Next];
            ulong slice = _maxSliceNs;
            if (choice.HasRunnerUp) slice = Min(slice, AllowanceSlice(ref next, choice.RunnerUpE, now));
            if (next.IsWarped(now) && next.WarpLimitNs != 0)
            {
                ulong left = next.WarpLimitNs > next.WarpedRunNs ? next.WarpLimitNs - next.WarpedRunNs : 0;
                slice = Min(slice, RoundUpToMcu(left));
            }
            return Min(slice, UntilNextRewarp(now));
        }

        /// <summary>
        /// Whole MCUs until E passes the runner-up's E by C / w: Xen's r_time = (evt' - evt) / mcu_advance +
        /// ctx_allow, with the virtual gap turned back into ns (Xen's sum added MCU counts to ns). The gap is
        /// positive: Choose keeps a runner only while it is short of the runner-up plus its allowance, and
        /// picks anyone else only at or below the runner-up.
        /// </summary>
        private ulong AllowanceSlice(ref BvtEntity next, long runnerUpE, ulong now)
        {
            long gap = runnerUpE + next.AllowanceAdvance - next.Effective(now);
            ulong mcus = CeilDiv((ulong)gap, (ulong)next.McuAdvance);
            return mcus >= _maxSliceNs / _mcuNs ? _maxSliceNs : mcus * _mcuNs;
        }

        /// <summary>
        /// Time until the first runnable entity gets its warp back. Its E then drops by W, which may entitle
        /// it to the CPU, so the decision is taken again then (Xen's unwarp_timer_fn raised SCHEDULE_SOFTIRQ).
        /// </summary>
        private ulong UntilNextRewarp(ulong now)
        {
            ulong soonest = _maxSliceNs;
            for (int i = 0; i < _scanLimit; i++)
            {
                ref BvtEntity entity = ref _entities[i];
                if (entity.Runnable && entity.WarpNs != 0 && entity.UnwarpedUntil > now)
                    soonest = Min(soonest, RoundUpToMcu(entity.UnwarpedUntil - now));
            }
            return soonest;
        }

        /// <summary>
        /// When the running entity must give way to one that has just woken: at once if the woken E is at
        /// or below the runner's (no allowance against a newcomer), else once the runner's E has passed the
        /// woken one's by the runner's allowance, in whole MCUs from its dispatch.
        /// </summary>
        private ulong RepickAfterWake(int woken, ulong now)
        {
            if (_running == None) return now;
            BvtEntity runner = Projected(_running, now);
            long runnerE = runner.Effective(now);
            long wokenE = _entities[woken].Effective(now);
            if (wokenE <= runnerE) return now;
            ulong more = CeilDiv((ulong)(wokenE + runner.AllowanceAdvance - runnerE), (ulong)runner.McuAdvance);
            ulong charged = now > _dispatchedAt ? CeilDiv(now - _dispatchedAt, _mcuNs) : 0;
            ulong sliceMcus = (_sliceEnd - _dispatchedAt) / _mcuNs;
            if (charged + more >= sliceMcus) return Max(now, _sliceEnd);
            return Max(now, _dispatchedAt + (charged + more) * _mcuNs);
        }

        private ulong RoundUpToMcu(ulong ns) => ns == 0 ? _mcuNs : CeilDiv(ns, _mcuNs) * _mcuNs;

        private static ulong CeilDiv(ulong value, ulong divisor) => value / divisor + (value % divisor == 0 ? 0UL : 1UL);

        private static ulong Min(ulong a, ulong b) => a < b ? a : b;

        private static ulong Max(ulong a, ulong b) => a > b ? a : b;

        /// <summary>The entity to run, and the runner-up's E that bounds its slice.</summary>
        private readonly struct Choice
        {
            public Choice(int next, bool hasRunnerUp, long runnerUpE)
            {
                Next = next;
                HasRunnerUp = hasRunnerUp;
                RunnerUpE = runnerUpE;
            }

            public int Next { get; }

            public bool HasRunnerUp { get; }

            public long RunnerUpE { get; }
        }

        /// <summary>One pass over the runnable entities, as Xen's bvt_do_schedule scanned its run queue.</summary>
        private struct Ranking
        {
            public int Lowest;
            public long LowestE;
            public ulong LowestWaitingSince;
            public bool HasSecond;
            public long SecondE;
            public bool HasWoken;
            public long LowestWokenE;
        }
    }
}

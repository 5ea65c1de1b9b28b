namespace Keel.Kernel.Scheduling
{
    /// <summary>What a <see cref="Bvt"/> operation made of its arguments. Nothing changes unless Ok.</summary>
    public enum BvtStatus
    {
        Ok,

        /// <summary>The id is outside [0, Capacity).</summary>
        BadId,

        /// <summary>No entity has that id.</summary>
        UnknownId,

        /// <summary>Add on an id that is already in use.</summary>
        IdInUse,

        /// <summary>A weight of zero or above Bvt.MaxWeight.</summary>
        BadWeight,

        /// <summary>A warp time above Bvt.MaxTimeParameterNs, or a warp limit with no unwarp time.</summary>
        BadWarp,
    }

    /// <summary>The outcome of <see cref="Bvt.PickNext"/>: whom to run, and for how long at most.</summary>
    public readonly struct BvtDecision
    {
        public BvtDecision(int id, ulong sliceNs)
        {
            Id = id;
            SliceNs = sliceNs;
        }

        /// <summary>The entity to run, or Bvt.None to idle.</summary>
        public int Id { get; }

        /// <summary>When to call PickNext again at the latest: a whole number of MCUs, at least one.</summary>
        public ulong SliceNs { get; }

        public bool IsIdle => Id == Bvt.None;
    }

    /// <summary>One entity as <see cref="Bvt.Query"/> sees it, the running one charged up to the query's time.</summary>
    public readonly struct BvtInfo
    {
        public BvtInfo(uint weight, bool runnable, bool running, bool warped, long actual, long effective, ulong runNs)
        {
            Weight = weight;
            IsRunnable = runnable;
            IsRunning = running;
            IsWarped = warped;
            ActualVirtualTime = actual;
            EffectiveVirtualTime = effective;
            RunNs = runNs;
        }

        public uint Weight { get; }

        public bool IsRunnable { get; }

        public bool IsRunning { get; }

        /// <summary>The warp is in effect now (asked for, and not withheld by the unwarp requirement).</summary>
        public bool IsWarped { get; }

        /// <summary>A, in Bvt.VirtualScale units per ns of running at weight 1.</summary>
        public long ActualVirtualTime { get; }

        /// <summary>E = A - W while warped, else A.</summary>
        public long EffectiveVirtualTime { get; }

        /// <summary>Real time run in total.</summary>
        public ulong RunNs { get; }
    }
}

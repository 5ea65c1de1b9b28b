namespace Keel.Kernel.Scheduling
{
    /// <summary>
    /// One schedulable entity's BVT state and the arithmetic on it that needs nothing else: charging a run,
    /// the warp rules and the effective virtual time. <see cref="Bvt"/> owns an array of these and decides
    /// between them. All virtual times are in units of <see cref="Bvt.VirtualScale"/> per nanosecond of
    /// running at weight 1: running t ns at weight w advances A by t * VirtualScale / w.
    /// </summary>
    internal struct BvtEntity
    {
        /// <summary>An entity with this id exists (Add was called and Remove was not).</summary>
        public bool Present;

        /// <summary>Runnable (woken and not blocked); the running entity is runnable too.</summary>
        public bool Runnable;

        /// <summary>Became runnable since the last pick: it competes without the allowance C.</summary>
        public bool Woken;

        /// <summary>The share, 1..Bvt.MaxWeight.</summary>
        public uint Weight;

        /// <summary>What one MCU of running adds to A (Xen's mcu_advance, the inverse of the weight).</summary>
        public long McuAdvance;

        /// <summary>The context switch allowance in this entity's virtual time: the paper's C / w_i.</summary>
        public long AllowanceAdvance;

        /// <summary>The warp W in virtual time: WarpNs of this entity's own running.</summary>
        public long WarpAdvance;

        /// <summary>Actual virtual time A.</summary>
        public long A;

        /// <summary>The warp asked for, in ns of this entity's running; zero means the entity never warps.</summary>
        public ulong WarpNs;

        /// <summary>L: how long it may run warped after waking before it loses the warp; zero means no limit.</summary>
        public ulong WarpLimitNs;

        /// <summary>U: how long it stays unwarped after running past L.</summary>
        public ulong UnwarpNs;

        /// <summary>Time run warped since it last woke or last lost its warp, measured against L.</summary>
        public ulong WarpedRunNs;

        /// <summary>The warp is withheld before this instant (the U penalty after running past L).</summary>
        public ulong UnwarpedUntil;

        /// <summary>When it last joined the competition (woke, or was descheduled while runnable).</summary>
        public ulong WaitingSince;

        /// <summary>Real time run in total, for reports and tests.</summary>
        public ulong RunNs;

        public void SetWeight(uint weight, ulong mcuNs, ulong allowanceNs)
        {
            Weight = weight;
            McuAdvance = (long)(mcuNs * (ulong)Bvt.VirtualScale / weight);
            AllowanceAdvance = (long)(allowanceNs * (ulong)Bvt.VirtualScale / weight);
            WarpAdvance = (long)(WarpNs * (ulong)Bvt.VirtualScale / weight);
        }

        public void SetWarp(ulong warpNs, ulong limitNs, ulong unwarpNs)
        {
            WarpNs = warpNs;
            WarpLimitNs = warpNs == 0 ? 0 : limitNs;
            UnwarpNs = warpNs == 0 ? 0 : unwarpNs;
            WarpAdvance = (long)(warpNs * (ulong)Bvt.VirtualScale / Weight);
        }

        /// <summary>The paper's warp_i: warp is asked for and not withheld by the unwarp requirement.</summary>
        public bool IsWarped(ulong now) => WarpNs != 0 && now >= UnwarpedUntil;

        /// <summary>The paper's effective virtual time E_i = A_i - (warp_i ? W_i : 0).</summary>
        public long Effective(ulong now) => IsWarped(now) ? A - WarpAdvance : A;

        /// <summary>
        /// Charges a run over [from, now). The paper and Xen's calc_avt charge whole MCUs, rounding a partial
        /// one up, so an entity that runs briefly and blocks still pays a full unit. A saturates at
        /// Bvt.MaxVirtualTime instead of wrapping, whatever interval the caller reports.
        /// </summary>
        public void Charge(ulong from, ulong now, ulong mcuNs)
        {
            if (now <= from) return;
            ulong ran = now - from;
            ulong mcus = ran / mcuNs + (ran % mcuNs == 0 ? 0UL : 1UL);
            ulong room = (ulong)(Bvt.MaxVirtualTime - A);
            A += mcus > room / (ulong)McuAdvance ? (long)room : (long)(mcus * (ulong)McuAdvance);
            RunNs += ran;
            ChargeWarp(from, now);
        }

        /// <summary>
        /// Counts warped running against the limit L. Past L the warp is withdrawn for U (Xen's warp_timer_fn
        /// then unwarp_timer_fn): a warped entity that fails to block cannot keep its priority indefinitely.
        /// </summary>
        private void ChargeWarp(ulong from, ulong now)
        {
            if (WarpNs == 0) return;
            ulong warpedFrom = from > UnwarpedUntil ? from : UnwarpedUntil;
            if (now <= warpedFrom) return;
            WarpedRunNs += now - warpedFrom;
            if (WarpLimitNs == 0 || WarpedRunNs < WarpLimitNs) return;
            UnwarpedUntil = now + UnwarpNs;
            WarpedRunNs = 0;
        }
    }
}

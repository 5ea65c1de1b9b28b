using Keel.Runtime;

namespace Keel.Guests.Tests
{
    /// <summary>
    /// The "time" test: system time from vcpu_time_info advances and agrees with sleeping, the wall clock
    /// is plausible, a poll sleeps until its timeout, set_timer_op wakes a blocked vCPU, and the domain's
    /// virtual time (its running time) grows only while it runs.
    /// </summary>
    internal static class TimeTests
    {
        private const ulong Millisecond = 1_000_000;

        internal static void Run()
        {
            DomainConsole.WriteLine("shared_info mapped: " + DomainConsole.Decimal(SharedInfo.Map()));
            ulong first = Clock.Now, second = Clock.Now;
            DomainConsole.WriteLine("time: system time " + (second >= first && first > 0 ? "advances" : "does not advance"));
            ulong wall = Clock.WallClockAtBoot;
            // 2020-01-01 to 2100-01-01: a clock that is set at all.
            DomainConsole.WriteLine("time: wall clock " + (wall > 1577836800 && wall < 4102444800 ? "is plausible" : "is " + DomainConsole.Decimal((long)wall)));

            ulong before = Clock.Now;
            long rc = Clock.SleepUntil(before + 50 * Millisecond);
            ulong slept = Clock.Now - before;
            DomainConsole.WriteLine("time: poll for 50 ms returned " + DomainConsole.Decimal(rc) + (slept >= 50 * Millisecond ? " after at least 50 ms" : " after only " + DomainConsole.Decimal((long)slept) + " ns"));
            DomainConsole.WriteLine("time: poll with a past timeout returned " + DomainConsole.Decimal(Clock.SleepUntil(1)));

            ulong running = Clock.RunningTime();
            before = Clock.Now;
            Clock.SetTimer(before + 30 * Millisecond);
            Hypercall.Block();
            ulong blocked = Clock.Now - before;
            ulong ran = Clock.RunningTime() - running;
            DomainConsole.WriteLine("time: set_timer_op woke block " + (blocked >= 30 * Millisecond ? "after at least 30 ms" : "after only " + DomainConsole.Decimal((long)blocked) + " ns"));
            DomainConsole.WriteLine("time: virtual time " + (ran < blocked ? "stood still while blocked" : "advanced while blocked") + " (ran " + DomainConsole.Decimal((long)(ran / 1000)) + " us of " + DomainConsole.Decimal((long)(blocked / 1000)) + " us)");
            DomainConsole.WriteLine("test domain: powering off");
        }
    }
}

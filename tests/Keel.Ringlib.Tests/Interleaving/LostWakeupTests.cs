using Keel.Ringlib.Tests.Support;
using Xunit;

namespace Keel.Ringlib.Tests.Interleaving;

/// <summary>
/// No lost wake-up: the production push-and-check-notify and final-check code, run by a producer and a
/// consumer thread under every schedule within a preemption bound, at the granularity of single shared-index
/// accesses, never leaves the consumer asleep while work waits on the ring. The negative controls show the
/// explorer is able to find lost wake-ups, so its silence on the production code means something.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class LostWakeupTests
{
    private const int Messages = 4;
    private const int Bound = 4;

    private readonly ITestOutputHelper _output;

    public LostWakeupTests(ITestOutputHelper output) => _output = output;

    [Theory]
    [InlineData(Direction.Requests, MemoryModel.SequentiallyConsistent)]
    [InlineData(Direction.Requests, MemoryModel.TotalStoreOrder)]
    [InlineData(Direction.Responses, MemoryModel.SequentiallyConsistent)]
    [InlineData(Direction.Responses, MemoryModel.TotalStoreOrder)]
    public void A_consumer_that_sleeps_after_its_final_check_is_woken_in_every_interleaving(Direction direction, MemoryModel model)
    {
        using var scenario = new WakeupScenario<ExploredAccess>(direction, ConsumerVariant.FinalCheck, Messages);
        ExplorationResult result = scenario.Explore(model, Bound);
        _output.WriteLine($"{direction}/{model}: {result.Executions} executions, notifications {scenario.MinNotifications}..{scenario.MaxNotifications}, {scenario.ExecutionsWithWakeUps} with the consumer woken from sleep");

        Assert.Empty(result.Errors);
        Assert.True(result.Exhausted, "the exploration stopped before covering the bound");
        Assert.True(result.Violations == 0, result.FirstViolation + " schedule: " + result.FirstViolationSchedule);
        Assert.True(result.Executions > 100, "too few schedules to mean anything: " + result.Executions);
        Assert.True(scenario.ExecutionsWithWakeUps > 0, "no schedule put the consumer to sleep and woke it");
    }

    [Theory]
    [InlineData(Direction.Requests, MemoryModel.SequentiallyConsistent)]
    [InlineData(Direction.Requests, MemoryModel.TotalStoreOrder)]
    [InlineData(Direction.Responses, MemoryModel.TotalStoreOrder)]
    public void A_burst_published_unchecked_and_closed_by_one_checked_push_loses_no_wake_up(Direction direction, MemoryModel model)
    {
        using var scenario = new WakeupScenario<ExploredAccess>(direction, ConsumerVariant.FinalCheck, Messages, ProducerVariant.CheckAtEndOfBurst);
        ExplorationResult result = scenario.Explore(model, Bound);
        _output.WriteLine($"{direction}/{model}: {result.Executions} executions, notifications {scenario.MinNotifications}..{scenario.MaxNotifications}");

        Assert.Empty(result.Errors);
        Assert.True(result.Exhausted);
        Assert.True(result.Violations == 0, result.FirstViolation + " schedule: " + result.FirstViolationSchedule);
        Assert.Equal(1, scenario.MaxNotifications);
        Assert.Equal(0, scenario.MinNotifications);
    }

    [Theory]
    [InlineData(Direction.Requests)]
    [InlineData(Direction.Responses)]
    public void Notifications_are_suppressed_while_the_consumer_is_busy(Direction direction)
    {
        using var scenario = new WakeupScenario<ExploredAccess>(direction, ConsumerVariant.FinalCheck, Messages);
        ExplorationResult result = scenario.Explore(MemoryModel.SequentiallyConsistent, Bound);

        // Every execution already checked: notifications <= 1 + times the consumer armed its event index.
        Assert.True(result.Violations == 0, result.FirstViolation);
        // When the consumer never goes idle between messages, one notification covers all of them...
        Assert.Equal(1, scenario.MinNotifications);
        // ...and even when it sleeps between every message, there is never more than one per message.
        Assert.Equal(Messages, scenario.MaxNotifications);
    }

    [Theory]
    [InlineData(Direction.Requests)]
    [InlineData(Direction.Responses)]
    public void The_explorer_finds_the_lost_wake_up_of_a_consumer_that_skips_the_recheck(Direction direction)
    {
        using var scenario = new WakeupScenario<ExploredAccess>(direction, ConsumerVariant.ArmsWithoutRecheck, Messages);
        ExplorationResult result = scenario.Explore(MemoryModel.SequentiallyConsistent, Bound, stopAtFirstViolation: true);
        _output.WriteLine(result.FirstViolation + " after " + result.Executions + " executions; schedule: " + result.FirstViolationSchedule);

        Assert.Empty(result.Errors);
        Assert.Equal(1, result.Violations);
        Assert.StartsWith("lost wake-up", result.FirstViolation);
    }

    [Theory]
    [InlineData(Direction.Requests)]
    [InlineData(Direction.Responses)]
    public void The_explorer_finds_the_lost_wake_up_of_rings_without_full_barriers_under_store_buffering(Direction direction)
    {
        using var scenario = new WakeupScenario<ExploredAccessWithoutFullBarrier>(direction, ConsumerVariant.FinalCheck, Messages);
        ExplorationResult result = scenario.Explore(MemoryModel.TotalStoreOrder, Bound, stopAtFirstViolation: true);
        _output.WriteLine(result.FirstViolation + " after " + result.Executions + " executions; schedule: " + result.FirstViolationSchedule);

        Assert.Empty(result.Errors);
        Assert.Equal(1, result.Violations);
        Assert.StartsWith("lost wake-up", result.FirstViolation);
    }

    [Fact]
    public void Without_store_buffering_the_same_barrier_free_rings_lose_nothing_so_the_barriers_are_what_matters_on_x86()
    {
        using var scenario = new WakeupScenario<ExploredAccessWithoutFullBarrier>(Direction.Requests, ConsumerVariant.FinalCheck, Messages);
        ExplorationResult result = scenario.Explore(MemoryModel.SequentiallyConsistent, Bound);

        Assert.Empty(result.Errors);
        Assert.True(result.Exhausted);
        Assert.True(result.Violations == 0, result.FirstViolation);
    }
}

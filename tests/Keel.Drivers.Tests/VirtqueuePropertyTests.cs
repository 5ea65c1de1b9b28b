using System;
using System.Collections.Generic;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Keel.Drivers.Tests.Model;
using Keel.Drivers.Virtio;
using Xunit;

namespace Keel.Drivers.Tests;

/// <summary>One step of the driver or the device, chosen at random; <see cref="Argument"/> picks sizes and victims.</summary>
public readonly record struct QueueStep(QueueAction Action, int Argument);

public enum QueueAction
{
    Submit,
    Kick,
    DeviceTakes,
    DeviceCompletes,
    DeviceLies,
    Reap,
}

/// <summary>A run of steps on a block device whose queue has <see cref="Size"/> entries.</summary>
public sealed record QueueScenario(ushort Size, bool Indirect, bool EventIndex, QueueStep[] Steps)
{
    public override string ToString() =>
        $"size={Size} indirect={Indirect} eventIdx={EventIndex} steps=[{string.Join(",", Steps.Select(s => $"{s.Action}:{s.Argument}"))}]";
}

public static class QueueScenarios
{
    public static Arbitrary<QueueScenario> Scenario()
    {
        Gen<QueueStep> step =
            from action in Gen.Frequency(
                (6, Gen.Constant(QueueAction.Submit)),
                (2, Gen.Constant(QueueAction.Kick)),
                (2, Gen.Constant(QueueAction.DeviceTakes)),
                (4, Gen.Constant(QueueAction.DeviceCompletes)),
                (1, Gen.Constant(QueueAction.DeviceLies)),
                (3, Gen.Constant(QueueAction.Reap)))
            from argument in Gen.Choose(0, 1000)
            select new QueueStep(action, argument);
        Gen<QueueScenario> scenario =
            from size in Gen.Elements((ushort)4, (ushort)8, (ushort)16)
            from indirect in ArbMap.Default.GeneratorFor<bool>()
            from eventIndex in ArbMap.Default.GeneratorFor<bool>()
            from length in Gen.Choose(0, 300)
            from steps in step.ArrayOf(length)
            select new QueueScenario(size, indirect, eventIndex, steps);
        return scenario.ToArbitrary();
    }
}

/// <summary>
/// Submits, kicks, device takes and out-of-order completions, lying used entries and reaps, interleaved at
/// random against the model device: no token is ever lost or completed twice, a refused submission changes
/// nothing, and the device never sees a descriptor handed over again while a chain holding it is still in
/// flight (the model records that as a violation).
/// </summary>
public sealed class VirtqueuePropertyTests
{
    [Property(Arbitrary = new[] { typeof(QueueScenarios) }, MaxTest = 300)]
    public void Any_interleaving_of_submits_and_completions_never_loses_duplicates_or_reuses(QueueScenario scenario)
    {
        ulong features = ModelMachine.DefaultFeatures;
        features &= scenario.Indirect ? ~0UL : ~VirtioFeatures.IndirectDescriptors;
        features &= scenario.EventIndex ? ~0UL : ~VirtioFeatures.EventIndex;
        using var machine = new ModelMachine(features, sectors: 64);
        VirtioBlock block = machine.Start(queueSize: scenario.Size, maxSegments: 3);
        machine.Device.ServeOnNotify = false;
        ulong buffer = machine.Dma.AllocateBuffer(1);
        var outstanding = new HashSet<ulong>();
        var held = new List<ModelChain>();
        var completions = new BlockCompletion[4];
        ulong nextToken = 1;
        int lies = 0;

        int Reap(int room)
        {
            int count = block.Reap(completions.AsSpan(0, room));
            for (int i = 0; i < count; i++)
            {
                Assert.True(outstanding.Remove(completions[i].Token), $"token {completions[i].Token} reaped but not outstanding");
                Assert.Equal(BlockStatus.Ok, completions[i].Status);
            }

            return count;
        }

        foreach (QueueStep step in scenario.Steps)
        {
            switch (step.Action)
            {
                case QueueAction.Submit:
                    int segments = 1 + step.Argument % block.MaxSegments;
                    BlockSegment[] data = Enumerable.Range(0, segments).Select(i => new BlockSegment(buffer + (ulong)(512 * i), 512)).ToArray();
                    int before = block.InFlight;
                    if (block.TrySubmit(BlockOperation.Read, (ulong)(step.Argument % 32), data, nextToken))
                    {
                        outstanding.Add(nextToken++);
                    }
                    else
                    {
                        Assert.Equal(before, block.InFlight);
                        Assert.NotEqual(0, before);
                    }

                    break;
                case QueueAction.Kick:
                    block.Kick();
                    break;
                case QueueAction.DeviceTakes:
                    held.AddRange(machine.Device.Queue.TakeAvailable());
                    break;
                case QueueAction.DeviceCompletes when held.Count > 0:
                    int victim = step.Argument % held.Count;
                    machine.Device.Finish(held[victim]);
                    held.RemoveAt(victim);
                    break;
                case QueueAction.DeviceLies when block.InFlight < scenario.Size:
                    // A used entry with an id out of range, which the driver must skip. A device has at most
                    // a ring of used entries outstanding, one per chain in flight, so the driver drains the
                    // ring before the next one could overwrite an entry it has not read.
                    machine.Device.Queue.PushUsed((uint)(scenario.Size + step.Argument), 0);
                    lies++;
                    while (Reap(completions.Length) == completions.Length)
                    {
                    }

                    Assert.Equal(lies, block.IgnoredCompletions);
                    break;
                case QueueAction.Reap:
                    Reap(1 + step.Argument % 4);
                    break;
            }

            Assert.Empty(machine.Device.Queue.Violations);
        }

        // Drain: everything submitted reaches the device, completes, and is reaped exactly once.
        block.Kick();
        held.AddRange(machine.Device.Queue.TakeAvailable());
        foreach (ModelChain chain in held)
        {
            machine.Device.Finish(chain);
        }

        while (Reap(completions.Length) == completions.Length)
        {
        }

        Assert.Empty(outstanding);
        Assert.Equal(0, block.InFlight);
        Assert.Empty(machine.Device.Queue.Violations);
        Assert.Equal(machine.Device.Requests.Count, (int)nextToken - 1);
    }
}

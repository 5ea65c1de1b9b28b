using System.Collections.Generic;
using System.Linq;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Keel.Guests.KvStore;
using Keel.KvStore.Tests.Support;
using Xunit;

namespace Keel.KvStore.Tests;

/// <summary>One generated operation: a put or a delete of one of a few keys (so that keys are superseded and deleted often).</summary>
public sealed record Operation(bool Delete, string Key, string Value)
{
    public override string ToString() => Delete ? $"del {Key}" : $"put {Key}={Value}";
}

/// <summary>A run of the store: its operations split across boots, each boot starting from what the disk holds.</summary>
public sealed record Scenario(Operation[][] Boots, int DiskSectors, int MaxReadSectors)
{
    public override string ToString() =>
        $"{DiskSectors} sectors, reads of {MaxReadSectors}: " + string.Join(" | ", Boots.Select(b => string.Join(";", b.Select(o => o.ToString()))));
}

public static class Scenarios
{
    public static Arbitrary<Scenario> Scenario()
    {
        Gen<string> key = Gen.Elements("a", "b", "colour", "n", new string('k', KvFormat.MaxKeyBytes));
        Gen<string> value =
            from length in Gen.Frequency((4, Gen.Choose(0, 8)), (1, Gen.Choose(0, KvFormat.MaxValueBytes)))
            from chars in Gen.Elements("abcdefxyz 0123456789=+-".ToCharArray()).ArrayOf(length)
            select new string(chars).Trim();
        Gen<Operation> operation =
            from delete in Gen.Frequency((3, Gen.Constant(false)), (1, Gen.Constant(true)))
            from k in key
            from v in value
            select new Operation(delete, k, delete ? "" : v);
        Gen<Scenario> scenario =
            from boots in operation.ArrayOf().ArrayOf()
            from sectors in Gen.Elements(8, 40, 400)
            from reads in Gen.Elements(1, 7, 64)
            select new Scenario(boots, sectors, reads);
        return scenario.ToArbitrary();
    }
}

/// <summary>The log against a dictionary: whatever was acknowledged, a replay gives back exactly.</summary>
public sealed class ModelPropertyTests
{
    [Property(Arbitrary = new[] { typeof(Scenarios) }, MaxTest = 300)]
    public void Replaying_the_log_of_random_operations_gives_the_table_a_dictionary_model_gives(Scenario scenario)
    {
        var disk = new MemoryDisk(scenario.DiskSectors, scenario.MaxReadSectors);
        var model = new Dictionary<string, string>();
        ulong records = 0, capacity = (ulong)scenario.DiskSectors - 1;
        foreach (Operation[] boot in scenario.Boots)
        {
            var console = new ListConsole();
            var session = new KvSession(disk, console);
            Assert.True(session.Open());
            AssertSame(model, records, session.Log);

            session.Run(string.Join(";", boot.Select(o => o.ToString())));
            Assert.Equal(boot.Length, console.Lines.Count(l => !l.StartsWith("kv: a new log", System.StringComparison.Ordinal)));
            // The model: a delete of a missing key records nothing, and a full log takes nothing more.
            foreach (Operation o in boot)
            {
                if ((o.Delete && !model.ContainsKey(o.Key)) || records == capacity) continue;
                if (o.Delete) model.Remove(o.Key);
                else model[o.Key] = o.Value;
                records++;
            }
            AssertSame(model, records, session.Log);
        }
        var last = new KvSession(disk, new ListConsole());
        Assert.True(last.Open());
        AssertSame(model, records, last.Log);
    }

    private static void AssertSame(Dictionary<string, string> model, ulong records, KvLog log)
    {
        Assert.Equal(records, log.Records);
        Assert.Equal(model.Count, log.Table.Count);
        foreach (var (key, value) in model)
        {
            int slot = log.Table.Find(Encoding.ASCII.GetBytes(key));
            Assert.True(slot >= 0, $"{key} is missing");
            Assert.Equal(value, Encoding.ASCII.GetString(log.Table.Value(slot)));
        }
    }
}

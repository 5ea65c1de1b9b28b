using System.Collections.Generic;
using System.Text.Json.Serialization;

namespace Keel.Bench;

/// <summary>One figure in results.json. <see cref="Ratio"/> is always Value / BaselineValue, whichever
/// direction is better for the unit (the report says which).</summary>
public sealed record BenchmarkResult(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("value")] double Value,
    [property: JsonPropertyName("unit")] string Unit,
    [property: JsonPropertyName("baseline")] string Baseline = null,
    [property: JsonPropertyName("baseline_value")] double? BaselineValue = null)
{
    [JsonPropertyName("ratio")]
    public double? Ratio => BaselineValue is double b && b != 0 ? Value / b : null;
}

/// <summary>A stated target and whether this run met it.</summary>
public sealed record BenchmarkGoal(string Description, bool Met, string Measured);

/// <summary>What one benchmark hands back: figures for results.json, and the prose for its report section.</summary>
public sealed class BenchmarkSection
{
    public BenchmarkSection(string title) => Title = title;

    public string Title { get; }

    public List<BenchmarkResult> Results { get; } = new();

    public List<BenchmarkGoal> Goals { get; } = new();

    /// <summary>Markdown paragraphs and tables, in order.</summary>
    public List<string> Body { get; } = new();
}

/// <summary>A component's benchmark. Implementations are listed in Program and run one after another; each
/// should keep to a few tens of seconds on two cores.</summary>
public interface IBenchmark
{
    BenchmarkSection Run();
}

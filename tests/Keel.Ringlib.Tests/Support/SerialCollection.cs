using Xunit;

namespace Keel.Ringlib.Tests.Support;

/// <summary>Tests that use both cores (real threads) or the process-wide explorer run alone, after the rest.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "Serial: uses both cores";
}

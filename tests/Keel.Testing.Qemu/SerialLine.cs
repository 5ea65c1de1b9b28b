using System.Text.RegularExpressions;

namespace Keel.Testing.Qemu;

/// <summary>
/// A line of the serial console, without its line ending and terminal escape sequences.
/// <paramref name="Number"/> counts from 1. <paramref name="Match"/> is the regular expression's match, or
/// <see cref="Match.Empty"/> when the line was found by a predicate.
/// </summary>
public sealed record SerialLine(int Number, string Text, Match Match)
{
    public override string ToString() => $"{Number}: {Text}";
}

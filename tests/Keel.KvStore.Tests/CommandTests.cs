using System.Collections.Generic;
using Keel.Guests.KvStore;
using Xunit;

namespace Keel.KvStore.Tests;

/// <summary>The command line read into operations.</summary>
public sealed class CommandTests
{
    private static List<string> Read(string line)
    {
        var commands = new List<string>();
        int position = 0;
        while (KvCommands.Next(line, ref position, out KvCommand command))
            commands.Add($"{command.Kind}|{new string(command.Key)}|{new string(command.Value)}");
        return commands;
    }

    [Fact]
    public void Operations_are_split_at_semicolons_with_blank_ones_and_outer_spaces_ignored()
    {
        Assert.Equal(
            ["Put|colour|blue sky", "Get|colour|", "Delete|n|", "List||", "Invalid||"],
            Read(" put colour = blue sky ;; get colour;del  n ; list;;unknown;"));
    }

    [Fact]
    public void A_put_without_an_equals_sign_and_a_bare_verb_are_not_operations()
    {
        Assert.Equal(["Invalid||", "Invalid||", "Invalid||"], Read("put colour;get;list all"));
    }

    [Fact]
    public void The_value_is_everything_after_the_first_equals_sign()
    {
        Assert.Equal(["Put|sum|1+1=2"], Read("put sum=1+1=2"));
    }

    [Fact]
    public void An_empty_command_line_holds_no_operations()
    {
        Assert.Empty(Read(""));
        Assert.Empty(Read(" ; ;"));
    }
}

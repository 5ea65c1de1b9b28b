using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Keel.Kernel.Boot;
using Keel.Kernel.Diagnostics;
using Keel.Kernel.Text;
using Keel.Kernel.Time;

namespace Keel.Kernel.Tests;

public class RtcTimeTests
{
    [Fact]
    public void BCD_registers_in_12_hour_mode_decode_to_a_24_hour_UTC_time()
    {
        var r = new RtcRegisters { Seconds = 0x59, Minutes = 0x30, Hours = 0x80 | 0x11, Day = 0x23, Month = 0x11, Year = 0x26, Century = 0x20, StatusB = 0x00 };
        Assert.True(DateTimeParts.TryDecode(r, out var t));
        Assert.Equal((2026, 11, 23, 23, 30, 59), (t.Year, t.Month, t.Day, t.Hour, t.Minute, t.Second));
    }

    [Fact]
    public void Midnight_and_noon_in_12_hour_mode_are_hours_0_and_12()
    {
        var midnight = new RtcRegisters { Hours = 0x12, Day = 1, Month = 1, Year = 0x00, StatusB = 0x00 };
        var noon = midnight with { Hours = 0x80 | 0x12 };
        Assert.True(DateTimeParts.TryDecode(midnight, out var a));
        Assert.True(DateTimeParts.TryDecode(noon, out var b));
        Assert.Equal(0, a.Hour);
        Assert.Equal(12, b.Hour);
    }

    [Fact]
    public void Binary_24_hour_registers_decode_directly_and_a_missing_century_means_the_2000s()
    {
        var r = new RtcRegisters { Seconds = 5, Minutes = 6, Hours = 17, Day = 28, Month = 2, Year = 99, Century = 0, StatusB = 0x06 };
        Assert.True(DateTimeParts.TryDecode(r, out var t));
        Assert.Equal((2099, 2, 28, 17, 6, 5), (t.Year, t.Month, t.Day, t.Hour, t.Minute, t.Second));
    }

    [Theory]
    [InlineData(0xFF)]
    [InlineData(0x00)]
    [InlineData(0x99)]
    public void A_century_register_holding_no_plausible_century_means_the_2000s(byte century)
    {
        var r = new RtcRegisters { Seconds = 0, Minutes = 0, Hours = 0, Day = 1, Month = 1, Year = 0x26, Century = century, StatusB = 0x02 };
        Assert.True(DateTimeParts.TryDecode(r, out var t));
        Assert.Equal(2026, t.Year);
    }

    [Fact]
    public void Out_of_range_fields_are_rejected()
    {
        var r = new RtcRegisters { Seconds = 0x61, Minutes = 0, Hours = 0, Day = 1, Month = 1, Year = 0x26, StatusB = 0x02 };
        Assert.False(DateTimeParts.TryDecode(r, out _));
        Assert.False(DateTimeParts.TryDecode(r with { Seconds = 0, Month = 0x13 }, out _));
        Assert.False(DateTimeParts.TryDecode(r with { Seconds = 0, Day = 0 }, out _));
    }
}

public class SymbolMapTests
{
    private static readonly SymbolMap Map = SymbolMap.Parse(Encoding.ASCII.GetBytes(
        "ffffffff80200000 __keel_text_start\n" +
        "ffffffff80201180 keel_main\n" +
        "not a symbol line\n" +
        "ffffffff80202000 _ZTV44S_P_CoreLib_System_InvalidOperationException\n"));

    private static string Name(ReadOnlySpan<byte> bytes) => Encoding.ASCII.GetString(bytes);

    [Fact]
    public void An_address_is_named_by_the_closest_symbol_at_or_below_it()
    {
        Assert.Equal(3, Map.Count);
        Assert.True(Map.TryFind(0xffffffff80201196, out var name, out ulong offset));
        Assert.Equal("keel_main", Name(name));
        Assert.Equal(0x16UL, offset);
        Assert.True(Map.TryFind(0xffffffff80202000, out name, out offset));
        Assert.Equal(0UL, offset);
    }

    [Fact]
    public void An_address_below_every_symbol_has_no_name()
    {
        Assert.False(Map.TryFind(0x1000, out _, out _));
    }

    [Fact]
    public void Method_table_symbols_read_as_type_names()
    {
        Span<byte> buffer = stackalloc byte[128];
        int n = SymbolMap.ReadableTypeName("_ZTV44S_P_CoreLib_System_InvalidOperationException"u8, buffer);
        Assert.Equal("System.InvalidOperationException", Name(buffer[..n]));
        n = SymbolMap.ReadableTypeName("keel_main"u8, buffer);
        Assert.Equal("keel_main", Name(buffer[..n]));
    }

    [FsCheck.Xunit.Property(MaxTest = 500)]
    public bool Arbitrary_module_bytes_never_throw_and_lookups_stay_inside_the_module(byte[] module, ulong address)
    {
        var map = SymbolMap.Parse(module);
        if (map.TryFind(address, out var name, out ulong offset)) return name.Length <= module.Length && offset <= address;
        return true;
    }
}

public class CommandLineTests
{
    [Theory]
    [InlineData("keel.fault=page", "keel.fault", true, "page")]
    [InlineData("  quiet keel.fault=throw  ", "keel.fault", true, "throw")]
    [InlineData("quiet", "quiet", true, "")]
    [InlineData("keel.faulty=page", "keel.fault", false, null)]
    [InlineData("keel.fault", "keel.fault", true, "")]
    [InlineData("", "keel.fault", false, null)]
    [InlineData("a=1 keel.fault=page keel.fault=throw", "keel.fault", true, "page")]
    public void Options_are_found_by_exact_name(string line, string name, bool found, string? value)
    {
        Assert.Equal(found, CommandLine.TryGet(line, name, out string result));
        Assert.Equal(value, result);
    }
}

public class NumberFormatTests
{
    [FsCheck.Xunit.Property]
    public bool Decimal_matches_the_base_library(ulong value)
    {
        Span<byte> buffer = stackalloc byte[20];
        int n = NumberFormat.Decimal(value, buffer);
        return Encoding.ASCII.GetString(buffer[..n]) == value.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    [FsCheck.Xunit.Property]
    public bool Hex_matches_the_base_library(ulong value)
    {
        Span<byte> buffer = stackalloc byte[16];
        int n = NumberFormat.Hex(value, 16, buffer);
        return Encoding.ASCII.GetString(buffer[..n]) == value.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Padded_decimals_are_zero_filled_to_the_width_and_never_truncated()
    {
        Span<byte> buffer = stackalloc byte[24];
        Assert.Equal("0007", Encoding.ASCII.GetString(buffer[..NumberFormat.PaddedDecimal(7, 4, buffer)]));
        Assert.Equal("2026", Encoding.ASCII.GetString(buffer[..NumberFormat.PaddedDecimal(2026, 2, buffer)]));
    }
}

public class TextGridTests
{
    private static string Row(TextGrid grid, int row) => new(Enumerable.Range(0, grid.Columns).Select(c => grid[c, row]).ToArray());

    [Fact]
    public void Text_fills_rows_left_to_right_and_a_newline_starts_the_next_row()
    {
        var grid = new TextGrid(8, 3);
        foreach (char c in "Keel\nok") grid.Put(c, out _, out _);
        Assert.Equal("Keel    ", Row(grid, 0));
        Assert.Equal("ok      ", Row(grid, 1));
        Assert.Equal((2, 1), (grid.Column, grid.Row));
    }

    [Fact]
    public void A_full_row_wraps_and_leaving_the_last_row_scrolls_everything_up_one_row()
    {
        var grid = new TextGrid(4, 2);
        bool scrolled = false;
        foreach (char c in "abcdefghij") scrolled |= grid.Put(c, out _, out _);
        Assert.True(scrolled);
        Assert.Equal("efgh", Row(grid, 0));
        Assert.Equal("ij  ", Row(grid, 1));
    }

    [Fact]
    public void Each_put_names_the_cell_it_changed_and_control_characters_show_as_question_marks()
    {
        var grid = new TextGrid(4, 2);
        Assert.False(grid.Put('\t', out int column, out int row));
        Assert.Equal((0, 0), (column, row));
        Assert.Equal('?', grid[0, 0]);
        Assert.False(grid.Put('\r', out column, out _));
        Assert.Equal(-1, column);
    }
}

using System.Globalization;
using System.Text.RegularExpressions;

namespace Keel.Image;

/// <summary>
/// The kernel's console font for pixel framebuffers: the 8x16 ASCII glyphs GRUB itself ships
/// (/usr/share/grub/ascii.h in Debian's grub-common, generated from GNU Unifont), turned into a 2 KiB
/// module: 128 glyphs of 16 rows, one byte per row, most significant bit leftmost.
/// </summary>
public static partial class ConsoleFont
{
    public const string GrubAsciiHeader = "/usr/share/grub/ascii.h";
    public const int Glyphs = 128;
    public const int BytesPerGlyph = 16;

    [GeneratedRegex(@"0x([0-9a-fA-F]{2})")]
    private static partial Regex HexByte();

    public static byte[] FromGrubHeader(string headerText)
    {
        var bytes = HexByte().Matches(headerText).Select(m => byte.Parse(m.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
        if (bytes.Length != Glyphs * BytesPerGlyph)
        {
            throw new BuildException($"{GrubAsciiHeader} holds {bytes.Length} bytes, not the {Glyphs * BytesPerGlyph} of 128 8x16 glyphs");
        }
        return bytes;
    }
}

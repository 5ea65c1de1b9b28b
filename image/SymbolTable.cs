using System.Globalization;
using System.Text;

namespace Keel.Image;

/// <summary>
/// The kernel's symbol module: one "address name" line per symbol, in address order, so the kernel can
/// name the function an address falls in (and an exception's type from its MethodTable).
/// </summary>
public static class SymbolTable
{
    public static string FromNm(string nmOutput)
    {
        var s = new StringBuilder();
        foreach (var line in nmOutput.Split('\n'))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3) continue;
            char kind = char.ToLowerInvariant(parts[1][0]);
            if (kind is not ('t' or 'r' or 'd' or 'b')) continue;
            if (!ulong.TryParse(parts[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out _)) continue;
            s.Append(parts[0]).Append(' ').Append(parts[2]).Append('\n');
        }
        return s.ToString();
    }
}

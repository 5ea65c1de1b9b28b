using System;

namespace Keel.Kernel.Diagnostics
{
    /// <summary>
    /// The kernel's symbol module: lines "hexaddress name", sorted by address (written by the image tool from
    /// nm). Answers "which symbol is this address in", for fault reports and exception type names.
    /// The text is kept as given; an index of line starts is built once.
    /// </summary>
    public sealed class SymbolMap
    {
        private readonly byte[] _text;
        private readonly ulong[] _addresses;
        private readonly int[] _lineStarts;

        private SymbolMap(byte[] text, ulong[] addresses, int[] lineStarts)
        {
            _text = text;
            _addresses = addresses;
            _lineStarts = lineStarts;
        }

        public int Count => _addresses.Length;

        /// <summary>Parses the module; malformed lines are skipped, and out-of-order lines end the table.</summary>
        public static SymbolMap Parse(ReadOnlySpan<byte> module)
        {
            byte[] text = module.ToArray();
            int lines = 0;
            for (int i = 0; i < text.Length; i++)
            {
                if (text[i] == (byte)'\n') lines++;
            }
            var addresses = new ulong[lines + 1];
            var starts = new int[lines + 1];
            int count = 0;
            int start = 0;
            ulong previous = 0;
            while (start < text.Length)
            {
                int end = start;
                while (end < text.Length && text[end] != (byte)'\n') end++;
                if (TryParseLine(text, start, end, out ulong address))
                {
                    if (address < previous) break;
                    previous = address;
                    addresses[count] = address;
                    starts[count] = start;
                    count++;
                }
                start = end + 1;
            }
            var trimmedAddresses = new ulong[count];
            var trimmedStarts = new int[count];
            new ReadOnlySpan<ulong>(addresses, 0, count).CopyTo(trimmedAddresses);
            new ReadOnlySpan<int>(starts, 0, count).CopyTo(trimmedStarts);
            return new SymbolMap(text, trimmedAddresses, trimmedStarts);
        }

        /// <summary>The symbol at or below the address: its name (as bytes) and the offset into it.</summary>
        public bool TryFind(ulong address, out ReadOnlySpan<byte> name, out ulong offset)
        {
            name = default;
            offset = 0;
            int low = 0, high = _addresses.Length - 1, found = -1;
            while (low <= high)
            {
                int middle = low + (high - low) / 2;
                if (_addresses[middle] <= address)
                {
                    found = middle;
                    low = middle + 1;
                }
                else
                {
                    high = middle - 1;
                }
            }
            if (found < 0) return false;
            int nameStart = _lineStarts[found];
            while (_text[nameStart] != (byte)' ') nameStart++;
            nameStart++;
            int nameEnd = nameStart;
            while (nameEnd < _text.Length && _text[nameEnd] != (byte)'\n') nameEnd++;
            name = new ReadOnlySpan<byte>(_text, nameStart, nameEnd - nameStart);
            offset = address - _addresses[found];
            return true;
        }

        /// <summary>
        /// Turns ILC's symbol for a MethodTable ("_ZTV" + length + mangled name, e.g.
        /// _ZTV44S_P_CoreLib_System_InvalidOperationException) into a readable type name
        /// (System.InvalidOperationException): the prefix and the core library's assembly tag are dropped and
        /// underscores shown as dots. Other symbols are copied unchanged. Returns the length written.
        /// </summary>
        public static int ReadableTypeName(ReadOnlySpan<byte> symbol, Span<byte> destination)
        {
            ReadOnlySpan<byte> vtablePrefix = "_ZTV"u8;
            ReadOnlySpan<byte> corelibPrefix = "S_P_CoreLib_"u8;
            bool isType = symbol.StartsWith(vtablePrefix);
            if (isType)
            {
                symbol = symbol.Slice(vtablePrefix.Length);
                while (symbol.Length > 0 && symbol[0] >= (byte)'0' && symbol[0] <= (byte)'9') symbol = symbol.Slice(1);
                if (symbol.StartsWith(corelibPrefix)) symbol = symbol.Slice(corelibPrefix.Length);
            }
            int length = Math.Min(symbol.Length, destination.Length);
            for (int i = 0; i < length; i++) destination[i] = isType && symbol[i] == (byte)'_' ? (byte)'.' : symbol[i];
            return length;
        }

        private static bool TryParseLine(byte[] text, int start, int end, out ulong address)
        {
            address = 0;
            int i = start;
            int digits = 0;
            for (; i < end && text[i] != (byte)' '; i++, digits++)
            {
                int nibble = HexValue(text[i]);
                if (nibble < 0 || digits >= 16) return false;
                address = (address << 4) | (uint)nibble;
            }
            return digits > 0 && i + 1 < end;
        }

        private static int HexValue(byte c)
        {
            if (c >= (byte)'0' && c <= (byte)'9') return c - '0';
            if (c >= (byte)'a' && c <= (byte)'f') return c - 'a' + 10;
            if (c >= (byte)'A' && c <= (byte)'F') return c - 'A' + 10;
            return -1;
        }
    }
}

using System;

namespace Keel.Guests.Control.Store;

/// <summary>
/// Node permissions (docs/misc/xenstore.txt "GET_PERMS", tools/include/xenstore_lib.h): a list of entries
/// "&lt;letter&gt;&lt;domid&gt;", letter n (none), r (read), w (write) or b (both). The first entry names the owner,
/// who has full access, and gives the access of every domain not listed. Stored as three bytes per entry:
/// the domid (little-endian u16) and the bits below.
/// </summary>
internal static class Permissions
{
    public const int EntryBytes = 3;

    public const int Read = 1;      // XS_PERM_READ
    public const int Write = 2;     // XS_PERM_WRITE
    public const int Owner = 8;     // XS_PERM_OWNER, never stored: what AccessBits grants the owner

    /// <summary>XS_PERM_IGNORE: the entry names a domain that did not exist when it was set; it is kept
    /// and listed, but grants nothing (so a later domain reusing the id inherits nothing).</summary>
    public const int Ignore = 0x10;

    public static uint Domain(ReadOnlySpan<byte> perms, int index)
        => (uint)(perms[index * EntryBytes] | (perms[index * EntryBytes + 1] << 8));

    public static int Bits(ReadOnlySpan<byte> perms, int index) => perms[index * EntryBytes + 2];

    public static void WriteEntry(Span<byte> perms, int index, uint domid, int bits)
    {
        perms[index * EntryBytes] = (byte)domid;
        perms[index * EntryBytes + 1] = (byte)(domid >> 8);
        perms[index * EntryBytes + 2] = (byte)bits;
    }

    /// <summary>Parses <paramref name="count"/> NUL-terminated entries from <paramref name="strings"/>
    /// (xenstore-common.h xenstore_strings_to_perms, decimal domids 0 to 65535 only) into
    /// <paramref name="perms"/>. False for a malformed entry (EINVAL).</summary>
    public static bool TryParse(ReadOnlySpan<byte> strings, int count, Span<byte> perms)
    {
        int offset = 0;
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> entry = StorePath.StringAt(strings, offset, out offset);
            if (entry.Length < 2)
            {
                return false;
            }

            int bits;
            switch (entry[0])
            {
                case (byte)'n': bits = 0; break;
                case (byte)'r': bits = Read; break;
                case (byte)'w': bits = Write; break;
                case (byte)'b': bits = Read | Write; break;
                default: return false;
            }

            if (!DecimalText.TryParseDomain(entry.Slice(1), out uint domid))
            {
                return false;
            }

            WriteEntry(perms, i, domid, bits);
        }

        return true;
    }

    /// <summary>Writes the entries as GET_PERMS answers them, each NUL-terminated; returns the length, or -1
    /// when they do not fit.</summary>
    public static int Format(ReadOnlySpan<byte> perms, Span<byte> destination)
    {
        int length = 0;
        Span<byte> digits = stackalloc byte[8];
        for (int i = 0; i < perms.Length / EntryBytes; i++)
        {
            int bits = Bits(perms, i) & (Read | Write);
            int count = DecimalText.Write(Domain(perms, i), digits);
            if (length + count + 2 > destination.Length)
            {
                return -1;
            }

            destination[length++] = bits == (Read | Write) ? (byte)'b' : bits == Read ? (byte)'r' : bits == Write ? (byte)'w' : (byte)'n';
            digits.Slice(0, count).CopyTo(destination.Slice(length));
            length += count;
            destination[length++] = 0;
        }

        return length;
    }
}

using System;

namespace Keel.Guests.Control.Store;

/// <summary>
/// Path rules of docs/misc/xenstore.txt and tools/xenstored/core.c canonicalize(): ASCII alphanumerics
/// and -/_@ only; absolute paths start with '/', special watch paths with '@'; anything else is relative
/// to /local/domain/&lt;caller&gt;; no doubled slash, no trailing slash except the root, no empty path;
/// at most XENSTORE_ABS_PATH_MAX (3072) bytes, and for an unprivileged caller at most path-max bytes
/// after a leading /local/domain/&lt;domid&gt;/.
/// </summary>
internal static class StorePath
{
    public const int AbsoluteMax = Keel.Ringlib.Protocols.Store.AbsolutePathMax;

    /// <summary>The longest implicit prefix: "/local/domain/65535/".</summary>
    public const int PrefixMax = 20;

    public static ReadOnlySpan<byte> IntroduceDomain => "@introduceDomain"u8;

    public static ReadOnlySpan<byte> ReleaseDomain => "@releaseDomain"u8;

    public static bool ValidCharacter(byte c)
        => (c >= (byte)'a' && c <= (byte)'z') || (c >= (byte)'A' && c <= (byte)'Z') || (c >= (byte)'0' && c <= (byte)'9')
           || c == (byte)'-' || c == (byte)'/' || c == (byte)'_' || c == (byte)'@';

    /// <summary>Writes "/local/domain/&lt;domid&gt;" into <paramref name="destination"/> (at least 19 bytes) and
    /// returns its length.</summary>
    public static int DomainPath(uint domid, Span<byte> destination)
    {
        ReadOnlySpan<byte> prefix = "/local/domain/"u8;
        prefix.CopyTo(destination);
        return prefix.Length + DecimalText.Write(domid, destination.Slice(prefix.Length));
    }

    /// <summary>
    /// Turns the caller's <paramref name="path"/> into the absolute path it names, in
    /// <paramref name="destination"/> (AbsoluteMax + PrefixMax bytes). False for an invalid path (EINVAL).
    /// <paramref name="relativePrefix"/> is the number of leading bytes the caller did not write (0 for an
    /// absolute or special path), so that an event path can be handed back relative.
    /// </summary>
    public static bool Canonicalize(ReadOnlySpan<byte> path, uint domid, bool privileged, int relativePathQuota,
                                    bool allowSpecial, Span<byte> destination, out int length, out int relativePrefix)
    {
        length = 0;
        relativePrefix = 0;
        if (path.Length == 0 || path.Length > AbsoluteMax)
        {
            return false;
        }

        for (int i = 0; i < path.Length; i++)
        {
            if (!ValidCharacter(path[i]))
            {
                return false;
            }
        }

        if (path[0] == (byte)'@' && !allowSpecial)
        {
            return false;
        }

        if (path[0] != (byte)'/' && path[0] != (byte)'@')
        {
            relativePrefix = DomainPath(domid, destination);
            destination[relativePrefix++] = (byte)'/';
        }

        path.CopyTo(destination.Slice(relativePrefix));
        length = relativePrefix + path.Length;
        ReadOnlySpan<byte> name = destination.Slice(0, length);
        if (length > AbsoluteMax)
        {
            return false;
        }

        if (name[length - 1] == (byte)'/' && length != 1)
        {
            return false;
        }

        for (int i = 1; i < length; i++)
        {
            if (name[i] == (byte)'/' && name[i - 1] == (byte)'/')
            {
                return false;
            }
        }

        // core.c measures path-max after "/local/domain/%5u/" when the path starts that way.
        return privileged || length - LocalOffset(name) < relativePathQuota;
    }

    /// <summary>The length of a leading "/local/domain/&lt;1 to 5 digits&gt;/", or 0.</summary>
    private static int LocalOffset(ReadOnlySpan<byte> name)
    {
        ReadOnlySpan<byte> prefix = "/local/domain/"u8;
        if (!name.StartsWith(prefix))
        {
            return 0;
        }

        int i = prefix.Length;
        while (i < name.Length && i - prefix.Length < 5 && name[i] >= (byte)'0' && name[i] <= (byte)'9')
        {
            i++;
        }

        return i > prefix.Length && i < name.Length && name[i] == (byte)'/' ? i + 1 : 0;
    }

    /// <summary>The length of the parent's path: "/" for a top-level node, a special node or the root.</summary>
    public static int ParentLength(ReadOnlySpan<byte> path)
    {
        for (int i = path.Length - 1; i > 0; i--)
        {
            if (path[i] == (byte)'/')
            {
                return i;
            }
        }

        return 1;
    }

    /// <summary>True when <paramref name="child"/> is <paramref name="parent"/> or below it (watch.c is_child).</summary>
    public static bool IsWithin(ReadOnlySpan<byte> child, ReadOnlySpan<byte> parent)
    {
        if (!child.StartsWith(parent))
        {
            return false;
        }

        return parent.Length == 1 || child.Length == parent.Length || child[parent.Length] == (byte)'/';
    }

    /// <summary>FNV-1a of the bytes: a cheap first comparison of transaction paths.</summary>
    public static uint Hash(ReadOnlySpan<byte> bytes)
    {
        uint hash = 2166136261;
        for (int i = 0; i < bytes.Length; i++)
        {
            hash = (hash ^ bytes[i]) * 16777619;
        }

        return hash;
    }

    /// <summary>True when <paramref name="payload"/> holds exactly one string and its NUL ("onearg" in
    /// core.c); the string without its NUL in <paramref name="argument"/>.</summary>
    public static bool OneArgument(ReadOnlySpan<byte> payload, out ReadOnlySpan<byte> argument)
    {
        argument = default;
        if (payload.Length == 0 || payload.IndexOf((byte)0) != payload.Length - 1)
        {
            return false;
        }

        argument = payload.Slice(0, payload.Length - 1);
        return true;
    }

    /// <summary>The number of NULs in <paramref name="payload"/> (get_strings / xenstore_count_strings).</summary>
    public static int CountStrings(ReadOnlySpan<byte> payload)
    {
        int count = 0;
        for (int i = 0; i < payload.Length; i++)
        {
            if (payload[i] == 0)
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>The string starting at <paramref name="offset"/> up to (not including) its NUL; the offset of
    /// the next string in <paramref name="next"/>. The caller has counted the NULs.</summary>
    public static ReadOnlySpan<byte> StringAt(ReadOnlySpan<byte> payload, int offset, out int next)
    {
        ReadOnlySpan<byte> rest = payload.Slice(offset);
        int nul = rest.IndexOf((byte)0);
        next = offset + nul + 1;
        return rest.Slice(0, nul);
    }
}

/// <summary>Unsigned decimal numbers as the protocol writes them.</summary>
internal static class DecimalText
{
    /// <summary>Writes <paramref name="value"/> in decimal; returns the number of digits (at most 20).</summary>
    public static int Write(ulong value, Span<byte> destination)
    {
        int digits = 1;
        for (ulong rest = value / 10; rest != 0; rest /= 10)
        {
            digits++;
        }

        for (int i = digits - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + (int)(value % 10));
            value /= 10;
        }

        return digits;
    }

    /// <summary>Parses one or more decimal digits and nothing else, up to <paramref name="max"/>.</summary>
    public static bool TryParse(ReadOnlySpan<byte> text, ulong max, out ulong value)
    {
        value = 0;
        if (text.Length == 0 || text.Length > 20)
        {
            return false;
        }

        for (int i = 0; i < text.Length; i++)
        {
            uint digit = (uint)(text[i] - (byte)'0');
            if (digit > 9 || digit > max || value > (max - digit) / 10)
            {
                return false;
            }

            value = value * 10 + digit;
        }

        return true;
    }

    /// <summary>A domain id: 0 to 65535 (core.c parse_domid).</summary>
    public static bool TryParseDomain(ReadOnlySpan<byte> text, out uint domid)
    {
        bool ok = TryParse(text, 65535, out ulong value);
        domid = (uint)value;
        return ok;
    }
}

using System;

namespace Keel.Guests.KvStore;

public enum KvCommandKind
{
    Put,
    Get,
    Delete,
    List,
    /// <summary>Text that is none of the above; Text holds it for the message.</summary>
    Invalid,
}

/// <summary>One operation of the command line; Key, Value and Text point into the command line.</summary>
public readonly ref struct KvCommand(KvCommandKind kind, ReadOnlySpan<char> text, ReadOnlySpan<char> key, ReadOnlySpan<char> value)
{
    public KvCommandKind Kind { get; } = kind;

    /// <summary>The operation as written, spaces around it trimmed.</summary>
    public ReadOnlySpan<char> Text { get; } = text;

    public ReadOnlySpan<char> Key { get; } = key;

    public ReadOnlySpan<char> Value { get; } = value;
}

/// <summary>
/// The domain's command line: operations separated by ';', each "put KEY=VALUE", "get KEY", "del KEY" or
/// "list", with spaces around words ignored (a value keeps the spaces inside it). Read in place, one
/// operation at a time, so nothing is allocated.
/// </summary>
public static class KvCommands
{
    /// <summary>The operation that starts at position (blank ones skipped), moving position past it; false when none is left.</summary>
    public static bool Next(ReadOnlySpan<char> line, ref int position, out KvCommand command)
    {
        command = default;
        while (position >= 0 && position < line.Length)
        {
            int end = position;
            while (end < line.Length && line[end] != ';') end++;
            ReadOnlySpan<char> text = Trim(line.Slice(position, end - position));
            position = end + 1;
            if (text.Length == 0) continue;
            command = Parse(text);
            return true;
        }
        return false;
    }

    private static KvCommand Parse(ReadOnlySpan<char> text)
    {
        var invalid = new KvCommand(KvCommandKind.Invalid, text, ReadOnlySpan<char>.Empty, ReadOnlySpan<char>.Empty);
        if (Is(text, "list")) return new KvCommand(KvCommandKind.List, text, ReadOnlySpan<char>.Empty, ReadOnlySpan<char>.Empty);
        int space = 0;
        while (space < text.Length && text[space] != ' ') space++;
        if (space == text.Length) return invalid;
        ReadOnlySpan<char> word = text.Slice(0, space), rest = Trim(text.Slice(space + 1));
        if (Is(word, "get")) return new KvCommand(KvCommandKind.Get, text, rest, ReadOnlySpan<char>.Empty);
        if (Is(word, "del")) return new KvCommand(KvCommandKind.Delete, text, rest, ReadOnlySpan<char>.Empty);
        if (!Is(word, "put")) return invalid;
        int equals = 0;
        while (equals < rest.Length && rest[equals] != '=') equals++;
        if (equals == rest.Length) return invalid;
        return new KvCommand(KvCommandKind.Put, text, Trim(rest.Slice(0, equals)), Trim(rest.Slice(equals + 1)));
    }

    /// <summary>
    /// text as ASCII bytes into bytes; -1 if it does not fit or holds a character outside ' '..'~' (outside
    /// '!'..'~' unless spaces are allowed: keys have none, so a listing of keys reads unambiguously).
    /// </summary>
    public static int ToAscii(ReadOnlySpan<char> text, Span<byte> bytes, bool spaces)
    {
        if (text.Length > bytes.Length) return -1;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c > '~' || c < (spaces ? ' ' : '!')) return -1;
            bytes[i] = (byte)c;
        }
        return text.Length;
    }

    private static bool Is(ReadOnlySpan<char> text, string word) => text.SequenceEqual(word.AsSpan());

    private static ReadOnlySpan<char> Trim(ReadOnlySpan<char> text)
    {
        int start = 0, end = text.Length;
        while (start < end && text[start] == ' ') start++;
        while (end > start && text[end - 1] == ' ') end--;
        return text.Slice(start, end - start);
    }
}

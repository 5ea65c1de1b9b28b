using System;

namespace Keel.Guests.KvStore;

/// <summary>
/// A console line put together in a buffer allocated once, so that printing costs no garbage beyond the line
/// itself (there is no collector). What does not fit the buffer is left off the end.
/// </summary>
public sealed class KvLine
{
    private readonly char[] _chars;
    private int _length;

    public KvLine(int capacity) => _chars = new char[capacity];

    public ReadOnlySpan<char> Text => new ReadOnlySpan<char>(_chars, 0, _length);

    public KvLine Start(string text)
    {
        _length = 0;
        return Add(text);
    }

    public KvLine Add(string text) => Add(text.AsSpan());

    public KvLine Add(ReadOnlySpan<char> text)
    {
        for (int i = 0; i < text.Length && _length < _chars.Length; i++) _chars[_length++] = text[i];
        return this;
    }

    /// <summary>ASCII bytes (keys and values), each as its character.</summary>
    public KvLine Add(ReadOnlySpan<byte> ascii)
    {
        for (int i = 0; i < ascii.Length && _length < _chars.Length; i++) _chars[_length++] = (char)ascii[i];
        return this;
    }

    public KvLine Add(ulong number)
    {
        Span<char> digits = stackalloc char[20];
        int at = digits.Length;
        do
        {
            digits[--at] = (char)('0' + (int)(number % 10));
            number /= 10;
        } while (number != 0);
        return Add(digits.Slice(at));
    }
}

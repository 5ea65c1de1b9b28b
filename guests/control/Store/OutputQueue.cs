using System;
using Keel.Ringlib.Protocols;

namespace Keel.Guests.Control.Store;

/// <summary>
/// Replies and watch events waiting for one connection's peer, as whole messages (header then payload) in a
/// fixed byte ring allocated once. It never grows: the store reads a connection's next request only while a
/// largest reply still fits, and a watch event that does not fit is dropped (as xenstored drops an event
/// over its memory quota), so a peer that never reads costs the store this buffer and nothing more.
/// Invariant: the Count bytes from the head are whole messages, except that the first one may have been
/// partly handed out already; the first message not begun starts _boundary bytes after the head.
/// </summary>
internal sealed class OutputQueue
{
    private readonly byte[] _buffer;
    private int _head;       // offset of the oldest byte
    private int _count;      // bytes queued
    private int _boundary;   // bytes from _head to the first message not yet begun to be handed out

    public OutputQueue(int bytes)
    {
        _buffer = new byte[bytes];
    }

    public int Count => _count;

    public int Free => _buffer.Length - _count;

    public void Clear()
    {
        _head = 0;
        _count = 0;
        _boundary = 0;
    }

    /// <summary>Queues a message whose payload is the concatenation of up to four parts; false (and nothing
    /// queued) when it does not fit.</summary>
    public bool TryEnqueue(uint type, uint requestId, uint transactionId, ReadOnlySpan<byte> a, ReadOnlySpan<byte> b,
                           ReadOnlySpan<byte> c, ReadOnlySpan<byte> d)
    {
        int length = a.Length + b.Length + c.Length + d.Length;
        if (StoreMessageHeader.Bytes + length > Free)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[StoreMessageHeader.Bytes];
        var message = new StoreMessageHeader { Type = type, RequestId = requestId, TransactionId = transactionId, Length = (uint)length };
        message.TryWrite(header);
        Append(header);
        Append(a);
        Append(b);
        Append(c);
        Append(d);
        return true;
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            _buffer[(_head + _count) % _buffer.Length] = bytes[i];
            _count++;
        }
    }

    private byte At(int offset) => _buffer[(_head + offset) % _buffer.Length];

    /// <summary>True when a watch event with exactly this payload waits, not yet begun to be handed out
    /// (core.c send_event drops such a duplicate).</summary>
    public bool ContainsEvent(ReadOnlySpan<byte> payload)
    {
        for (int offset = _boundary; offset < _count; offset += StoreMessageHeader.Bytes + PayloadLength(offset))
        {
            if (TypeAt(offset) != (uint)StoreMessageType.WatchEvent || PayloadLength(offset) != payload.Length)
            {
                continue;
            }

            int i = 0;
            while (i < payload.Length && At(offset + StoreMessageHeader.Bytes + i) == payload[i])
            {
                i++;
            }

            if (i == payload.Length)
            {
                return true;
            }
        }

        return false;
    }

    private uint Word(int offset)
        => (uint)(At(offset) | (At(offset + 1) << 8) | (At(offset + 2) << 16) | (At(offset + 3) << 24));

    private uint TypeAt(int messageOffset) => Word(messageOffset);

    private int PayloadLength(int messageOffset) => (int)Word(messageOffset + 12);

    /// <summary>The oldest queued bytes that lie contiguously in the buffer (possibly fewer than Count).</summary>
    public ReadOnlySpan<byte> Peek()
    {
        int contiguous = _buffer.Length - _head;
        return new ReadOnlySpan<byte>(_buffer, _head, _count < contiguous ? _count : contiguous);
    }

    /// <summary>Forgets the oldest <paramref name="bytes"/> bytes (at most Count), which the peer now has.</summary>
    public void Drop(int bytes)
    {
        int boundary = _boundary;
        while (boundary < bytes)
        {
            boundary += StoreMessageHeader.Bytes + PayloadLength(boundary);
        }

        _head = (_head + bytes) % _buffer.Length;
        _count -= bytes;
        _boundary = boundary - bytes;
    }

    /// <summary>Copies out whole messages while they fit in <paramref name="destination"/>; returns the bytes
    /// copied. For queues nobody hands out partly (in-process connections).</summary>
    public int TakeMessages(Span<byte> destination)
    {
        int taken = 0;
        while (_count > 0)
        {
            int length = StoreMessageHeader.Bytes + PayloadLength(0);
            if (taken + length > destination.Length)
            {
                break;
            }

            for (int i = 0; i < length; i++)
            {
                destination[taken + i] = At(i);
            }

            taken += length;
            Drop(length);
        }

        return taken;
    }
}

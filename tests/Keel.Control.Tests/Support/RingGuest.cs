using System;
using System.Collections.Generic;
using Keel.Ringlib.Protocols;

namespace Keel.Control.Tests.Support;

/// <summary>The guest side of a store page: writes requests into the request ring, reads replies.</summary>
public sealed unsafe class RingGuest
{
    private readonly TestStore _store;
    private readonly List<byte> _received = new();

    public RingGuest(TestStore store, uint domid)
    {
        _store = store;
        Domid = domid;
        Assert.Equal(StoreError.None, store.Server.IntroduceDomain(domid, 1000 + domid, 10 + domid));
    }

    public uint Domid { get; }

    public StoreRingPage* Page => _store.Domains.Page(Domid);

    public static byte[] Message(StoreMessageType type, uint requestId, byte[] payload, uint tx = 0, uint? length = null)
    {
        var bytes = new byte[16 + payload.Length];
        new StoreMessageHeader { Type = (uint)type, RequestId = requestId, TransactionId = tx, Length = length ?? (uint)payload.Length }.TryWrite(bytes);
        payload.CopyTo(bytes, 16);
        return bytes;
    }

    /// <summary>Puts bytes on the request ring (as many as fit) and tells the store.</summary>
    public int Push(ReadOnlySpan<byte> bytes, bool service = true)
    {
        Assert.Equal(StoreRingStatus.Ok, StoreByteRing.Requests(Page).Write(bytes, out int written));
        if (service) _store.Server.Service(Domid);
        return written;
    }

    /// <summary>Reads everything on the response ring and returns the whole messages received so far.</summary>
    public List<StoreMessage> Receive()
    {
        var buffer = new byte[1024];
        while (true)
        {
            Assert.Equal(StoreRingStatus.Ok, StoreByteRing.Responses(Page).Read(buffer, out int read));
            if (read == 0) break;
            for (int i = 0; i < read; i++) _received.Add(buffer[i]);
            _store.Server.Service(Domid);
        }

        var messages = new List<StoreMessage>();
        int used = 0;
        byte[] all = _received.ToArray();
        while (all.Length - used >= 16)
        {
            StoreMessageHeader.TryRead(all.AsSpan(used), out StoreMessageHeader header);
            if (all.Length - used < 16 + header.Length) break;
            messages.Add(StoreMessage.Parse(all.AsSpan(used, 16 + (int)header.Length))[0]);
            used += 16 + (int)header.Length;
        }

        _received.RemoveRange(0, used);
        return messages;
    }

    /// <summary>Sends one request and returns the replies and events received after it.</summary>
    public List<StoreMessage> Request(StoreMessageType type, uint requestId, byte[] payload, uint tx = 0)
    {
        byte[] message = Message(type, requestId, payload, tx);
        int sent = 0;
        var messages = new List<StoreMessage>();
        while (sent < message.Length)
        {
            sent += Push(message.AsSpan(sent));
            messages.AddRange(Receive());
        }

        messages.AddRange(Receive());
        return messages;
    }
}

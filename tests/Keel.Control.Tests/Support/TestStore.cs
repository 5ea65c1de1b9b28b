using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using Keel.Guests.Control.Store;
using Keel.Ringlib.Protocols;

namespace Keel.Control.Tests.Support;

/// <summary>A message the store sent: type, ids and payload.</summary>
public sealed record StoreMessage(StoreMessageType Type, uint RequestId, uint TransactionId, byte[] Payload)
{
    public string Text => Encoding.ASCII.GetString(Payload);

    public StoreError Error => Type == StoreMessageType.Error ? Keel.Ringlib.Protocols.Store.ParseErrorName(Payload) : StoreError.None;

    /// <summary>The payload's NUL-terminated strings.</summary>
    public string[] Strings
    {
        get
        {
            string text = Text;
            if (text.Length == 0) return Array.Empty<string>();
            if (text.EndsWith('\0')) text = text.Substring(0, text.Length - 1);
            return text.Split('\0');
        }
    }

    public override string ToString() => $"{Type} req={RequestId} tx={TransactionId} \"{Text.Replace("\0", "\\0")}\"";

    public static List<StoreMessage> Parse(ReadOnlySpan<byte> bytes)
    {
        var messages = new List<StoreMessage>();
        while (bytes.Length >= 16)
        {
            StoreMessageHeader.TryRead(bytes, out StoreMessageHeader header);
            int length = (int)header.Length;
            messages.Add(new StoreMessage((StoreMessageType)header.Type, header.RequestId, header.TransactionId, bytes.Slice(16, length).ToArray()));
            bytes = bytes.Slice(16 + length);
        }

        return messages;
    }
}

/// <summary>Stand-in for the control domain: store pages in native memory, every domain up to MaxDomain
/// exists, notifications counted.</summary>
public sealed unsafe class FakeDomains : StoreHost, IDisposable
{
    private readonly Dictionary<uint, IntPtr> _pages = new();

    public uint MaxDomain = 3;
    public readonly Dictionary<uint, int> Notifications = new();
    public readonly List<(uint Domid, ulong Mfn, uint Port)> Connected = new();
    public readonly List<uint> Disconnected = new();
    public bool FailConnect;

    public StoreRingPage* Page(uint domid)
    {
        if (!_pages.TryGetValue(domid, out IntPtr page))
        {
            page = (IntPtr)NativeMemory.AlignedAlloc(4096, 4096);
            NativeMemory.Clear((void*)page, 4096);
            _pages[domid] = page;
        }

        return (StoreRingPage*)page;
    }

    public override StoreRingPage* Connect(uint domid, ulong mfn, uint port)
    {
        if (FailConnect) return null;
        Connected.Add((domid, mfn, port));
        return Page(domid);
    }

    public override void Disconnect(uint domid) => Disconnected.Add(domid);

    public override bool Exists(uint domid) => domid <= MaxDomain;

    public override void Notify(uint domid) => Notifications[domid] = Notifications.GetValueOrDefault(domid) + 1;

    public void Dispose()
    {
        foreach (IntPtr page in _pages.Values) NativeMemory.AlignedFree((void*)page);
        _pages.Clear();
    }
}

/// <summary>A store with in-process connections for domains 0 to 3 and helpers that speak the protocol.</summary>
public sealed class TestStore : IDisposable
{
    private readonly byte[] _output = new byte[1 << 20];
    private uint _nextRequest = 1;

    public TestStore(StoreLimits? limits = null, int domains = 4, bool connect = true)
    {
        Domains = new FakeDomains();
        Server = new StoreServer(limits ?? StoreLimits.Default, Domains);
        if (connect)
        {
            for (uint d = 0; d < (uint)domains; d++) Assert.True(Server.OpenLocalConnection(d));
        }
    }

    public FakeDomains Domains { get; }

    public StoreServer Server { get; }

    /// <summary>Watch events received per domain, in order, as "path|token".</summary>
    public readonly Dictionary<uint, List<string>> Events = new();

    public static byte[] Payload(params string[] strings)
    {
        var bytes = new List<byte>();
        foreach (string s in strings)
        {
            bytes.AddRange(Encoding.ASCII.GetBytes(s));
            bytes.Add(0);
        }

        return bytes.ToArray();
    }

    /// <summary>A WRITE payload: the path, its NUL, then the value as is.</summary>
    public static byte[] WritePayload(string path, string value)
    {
        var bytes = new List<byte>(Encoding.ASCII.GetBytes(path)) { 0 };
        bytes.AddRange(Encoding.ASCII.GetBytes(value));
        return bytes.ToArray();
    }

    /// <summary>Sends a request as <paramref name="domid"/> and returns its reply; watch events that come
    /// with it go to Events.</summary>
    public StoreMessage Send(uint domid, StoreMessageType type, byte[] payload, uint tx = 0)
    {
        uint id = _nextRequest++;
        var header = new StoreMessageHeader { Type = (uint)type, RequestId = id, TransactionId = tx, Length = (uint)payload.Length };
        Assert.True(Server.Submit(domid, header, payload), "the store refused the request");
        StoreMessage reply = null;
        foreach (StoreMessage message in Take(domid))
        {
            if (message.Type == StoreMessageType.WatchEvent) continue;
            Assert.Null(reply);
            reply = message;
        }

        Assert.NotNull(reply);
        Assert.Equal(id, reply.RequestId);
        Assert.Equal(tx, reply.TransactionId);
        if (reply.Type != StoreMessageType.Error) Assert.Equal(type, reply.Type);
        return reply;
    }

    /// <summary>Takes everything queued for <paramref name="domid"/>; events are also recorded in Events.</summary>
    public List<StoreMessage> Take(uint domid)
    {
        int length = Server.TakeOutput(domid, _output);
        List<StoreMessage> messages = StoreMessage.Parse(_output.AsSpan(0, length));
        foreach (StoreMessage message in messages)
        {
            if (message.Type != StoreMessageType.WatchEvent) continue;
            Assert.Equal(0u, message.RequestId);
            Assert.Equal(0u, message.TransactionId);
            string[] parts = message.Strings;
            Assert.Equal(2, parts.Length);
            EventsOf(domid).Add(parts[0] + "|" + parts[1]);
        }

        return messages;
    }

    public List<string> EventsOf(uint domid)
    {
        if (!Events.TryGetValue(domid, out List<string> list)) Events[domid] = list = new List<string>();
        return list;
    }

    /// <summary>Collects pending events of every local domain and returns (and forgets) those of one.</summary>
    public List<string> DrainEvents(uint domid)
    {
        Take(domid);
        var events = new List<string>(EventsOf(domid));
        EventsOf(domid).Clear();
        return events;
    }

    public StoreError Error(StoreMessage reply) => reply.Error;

    public StoreMessage Write(uint domid, string path, string value, uint tx = 0)
    {
        var bytes = new List<byte>(Encoding.ASCII.GetBytes(path)) { 0 };
        bytes.AddRange(Encoding.ASCII.GetBytes(value));
        return Send(domid, StoreMessageType.Write, bytes.ToArray(), tx);
    }

    public StoreMessage Read(uint domid, string path, uint tx = 0) => Send(domid, StoreMessageType.Read, Payload(path), tx);

    public StoreMessage Mkdir(uint domid, string path, uint tx = 0) => Send(domid, StoreMessageType.Mkdir, Payload(path), tx);

    public StoreMessage Rm(uint domid, string path, uint tx = 0) => Send(domid, StoreMessageType.Remove, Payload(path), tx);

    public StoreMessage Directory(uint domid, string path, uint tx = 0) => Send(domid, StoreMessageType.Directory, Payload(path), tx);

    public StoreMessage GetPerms(uint domid, string path, uint tx = 0) => Send(domid, StoreMessageType.GetPermissions, Payload(path), tx);

    public StoreMessage SetPerms(uint domid, string path, string perms, uint tx = 0)
    {
        var strings = new List<string> { path };
        strings.AddRange(perms.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        return Send(domid, StoreMessageType.SetPermissions, Payload(strings.ToArray()), tx);
    }

    public StoreMessage Watch(uint domid, string path, string token) => Send(domid, StoreMessageType.Watch, Payload(path, token));

    public StoreMessage Unwatch(uint domid, string path, string token) => Send(domid, StoreMessageType.Unwatch, Payload(path, token));

    public uint Start(uint domid)
    {
        StoreMessage reply = Send(domid, StoreMessageType.TransactionStart, Payload(""));
        Assert.Equal(StoreMessageType.TransactionStart, reply.Type);
        return uint.Parse(reply.Strings[0]);
    }

    public StoreMessage End(uint domid, uint tx, bool commit) => Send(domid, StoreMessageType.TransactionEnd, Payload(commit ? "T" : "F"), tx);

    public void Dispose() => Domains.Dispose();
}

using System;
using Keel.Ringlib.Protocols;

namespace Keel.Guests.Control.Store;

/// <summary>A watch (watch.c struct watch): the canonical path, the token, and how many leading bytes of
/// an event path to leave out when it was set relative.</summary>
internal struct WatchRecord
{
    public bool InUse;
    public int Connection;
    public int Next;
    public Blob Path;
    public Blob Token;
    public int RelativePrefix;
}

public sealed unsafe partial class StoreServer
{
    private WatchRecord[] _watches;
    private int _freeWatch;
    private readonly byte[] _event = new byte[Keel.Ringlib.Protocols.Store.PayloadMax + StorePath.AbsoluteMax];

    private void InitialiseWatches(int count)
    {
        _watches = new WatchRecord[count];
        for (int i = 0; i < _watches.Length; i++)
        {
            _watches[i].Next = i + 1 < _watches.Length ? i + 1 : -1;
        }

        _freeWatch = _watches.Length > 0 ? 0 : -1;
    }

    /// <summary>WATCH &lt;wpath&gt;|&lt;token&gt;| (exactly two strings: the depth extension is not offered). Answers
    /// OK, then fires the watch once with its own path (watch.c do_watch).</summary>
    private StoreError DoWatch(ref Caller caller, in StoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (StorePath.CountStrings(payload) != 2)
        {
            return StoreError.EINVAL;
        }

        ReadOnlySpan<byte> watchPath = StorePath.StringAt(payload, 0, out int next);
        ReadOnlySpan<byte> token = StorePath.StringAt(payload, next, out _);
        if (!Canonicalize(caller, watchPath, true, out int length, out int prefix))
        {
            return StoreError.EINVAL;
        }

        ReadOnlySpan<byte> path = new ReadOnlySpan<byte>(_path, 0, length);
        StoreConnection connection = _connections[caller.Connection];
        for (int w = connection.FirstWatch; w >= 0; w = _watches[w].Next)
        {
            if (_arena.Equals(_watches[w].Path, path) && _arena.Equals(_watches[w].Token, token))
            {
                return StoreError.EEXIST;
            }
        }

        int account = EnsureAccount(caller.Domid);
        if (account < 0)
        {
            return StoreError.ENOMEM;
        }

        if (!caller.Privileged && _accounts[account].Watches >= _limits.WatchQuota)
        {
            return StoreError.ENOSPC;
        }

        if (_freeWatch < 0 || !MayCharge(caller.Domid, ByteArena.ChunksFor(path.Length) + ByteArena.ChunksFor(token.Length), true, out _))
        {
            return StoreError.ENOMEM;
        }

        int watch = _freeWatch;
        _freeWatch = _watches[watch].Next;
        _watches[watch] = new WatchRecord
        {
            InUse = true,
            Connection = caller.Connection,
            Next = connection.FirstWatch,
            Path = StoreCharged(caller.Domid, path),
            Token = StoreCharged(caller.Domid, token),
            RelativePrefix = prefix,
        };
        connection.FirstWatch = watch;
        _accounts[account].Watches++;
        ReplyOk();
        QueueReply(caller.Connection, header, StoreError.None);
        QueueEvent(caller.Connection, path.Slice(prefix), watch);
        return StoreError.None;
    }

    /// <summary>UNWATCH &lt;wpath&gt;|&lt;token&gt;|: the watch with that canonical path and token, else ENOENT.</summary>
    private StoreError DoUnwatch(ref Caller caller, ReadOnlySpan<byte> payload)
    {
        if (StorePath.CountStrings(payload) != 2)
        {
            return StoreError.EINVAL;
        }

        ReadOnlySpan<byte> watchPath = StorePath.StringAt(payload, 0, out int next);
        ReadOnlySpan<byte> token = StorePath.StringAt(payload, next, out _);
        if (!Canonicalize(caller, watchPath, true, out int length, out _))
        {
            return StoreError.EINVAL;
        }

        ReadOnlySpan<byte> path = new ReadOnlySpan<byte>(_path, 0, length);
        StoreConnection connection = _connections[caller.Connection];
        int previous = -1;
        for (int w = connection.FirstWatch; w >= 0; previous = w, w = _watches[w].Next)
        {
            if (_arena.Equals(_watches[w].Path, path) && _arena.Equals(_watches[w].Token, token))
            {
                if (previous < 0)
                {
                    connection.FirstWatch = _watches[w].Next;
                }
                else
                {
                    _watches[previous].Next = _watches[w].Next;
                }

                FreeWatch(w);
                ReplyOk();
                return StoreError.None;
            }
        }

        return StoreError.ENOENT;
    }

    private void FreeWatch(int watch)
    {
        uint domid = _connections[_watches[watch].Connection].Domid;
        ReleaseCharged(domid, ref _watches[watch].Path);
        ReleaseCharged(domid, ref _watches[watch].Token);
        int account = FindAccount(domid);
        if (account >= 0)
        {
            _accounts[account].Watches--;
        }

        _watches[watch] = new WatchRecord { Next = _freeWatch };
        _freeWatch = watch;
    }

    /// <summary>Removes every watch of a connection.</summary>
    private void DropWatches(int connection)
    {
        while (_connections[connection].FirstWatch >= 0)
        {
            int watch = _connections[connection].FirstWatch;
            _connections[connection].FirstWatch = _watches[watch].Next;
            FreeWatch(watch);
        }
    }

    private StoreError DoResetWatches(ref Caller caller)
    {
        DropWatches(caller.Connection);
        DropTransactions(caller.Connection);
        ReplyOk();
        return StoreError.None;
    }

    /// <summary>
    /// Sends a WATCH_EVENT to every watch that <paramref name="match"/>es <paramref name="path"/>, when its
    /// domain may know of the change (watch.c watch_permitted): it could read the node's old permissions
    /// (<paramref name="oldPerms"/>, when <paramref name="hasOld"/>), or the node as it is now
    /// (<paramref name="node"/>, -1 when gone), or the node's parent now. With neither old permissions nor a
    /// node, nobody is told, not even the privileged domain.
    /// </summary>
    private void FireWatches(ReadOnlySpan<byte> path, WatchMatch match, int node, Blob oldPerms, bool hasOld)
    {
        if (node < 0 && !hasOld)
        {
            return;
        }

        for (int c = 0; c < _connections.Length; c++)
        {
            StoreConnection connection = _connections[c];
            if (!connection.Serving || connection.FirstWatch < 0)
            {
                continue;
            }

            bool checkedPermission = false;
            for (int w = connection.FirstWatch; w >= 0; w = _watches[w].Next)
            {
                if (!Matches(_watches[w].Path, path, match))
                {
                    continue;
                }

                if (!checkedPermission)
                {
                    if (!WatchPermitted(connection.Domid, node, oldPerms, hasOld))
                    {
                        break;
                    }

                    checkedPermission = true;
                }

                QueueEvent(c, path.Slice(_watches[w].RelativePrefix), w);
            }
        }
    }

    private bool Matches(Blob watchPath, ReadOnlySpan<byte> path, WatchMatch match)
    {
        if (match == WatchMatch.Exact)
        {
            return _arena.Equals(watchPath, path);
        }

        int length = watchPath.Length;
        return length <= path.Length && _arena.Equals(watchPath, path.Slice(0, length))
               && StorePath.IsWithin(path, path.Slice(0, length));
    }

    private bool WatchPermitted(uint domid, int node, Blob oldPerms, bool hasOld)
    {
        bool privileged = domid == _privileged;
        if (hasOld && (AccessBits(domid, privileged, oldPerms) & Permissions.Read) != 0)
        {
            return true;
        }

        if (node < 0)
        {
            return false;
        }

        if ((AccessBits(domid, privileged, _nodes[node].Perms) & Permissions.Read) != 0)
        {
            return true;
        }

        int parent = _nodes[node].Parent >= 0 ? _nodes[node].Parent : Root;
        return (AccessBits(domid, privileged, _nodes[parent].Perms) & Permissions.Read) != 0;
    }

    /// <summary>Queues "&lt;path&gt;\0&lt;token&gt;\0" for a watch's connection, unless it is over-long, an identical
    /// tree event already waits, or the output is full (the event is then dropped and counted).</summary>
    private void QueueEvent(int connection, ReadOnlySpan<byte> path, int watch)
    {
        Blob token = _watches[watch].Token;
        int length = path.Length + 1 + token.Length + 1;
        if (length > (int)Keel.Ringlib.Protocols.Store.PayloadMax)
        {
            return;
        }

        path.CopyTo(_event);
        _event[path.Length] = 0;
        _arena.CopyTo(token, new Span<byte>(_event, path.Length + 1, token.Length));
        _event[length - 1] = 0;
        ReadOnlySpan<byte> payload = new ReadOnlySpan<byte>(_event, 0, length);
        OutputQueue output = _connections[connection].Output;
        if (path.Length > 0 && path[0] != (byte)'@' && output.ContainsEvent(payload))
        {
            return;
        }

        if (!output.TryEnqueue((uint)StoreMessageType.WatchEvent, 0, 0, payload, default, default, default))
        {
            _connections[connection].DroppedEvents++;
        }
    }

    /// <summary>Fires a special watch path (domain.c fire_special_watches): watches on exactly that path,
    /// for domains that may read the special node.</summary>
    private void FireSpecial(int node)
    {
        int length = BuildPath(node, _walk);
        FireWatches(new ReadOnlySpan<byte>(_walk, 0, length), WatchMatch.Exact, node, default, false);
    }
}

// The store (xenstored's protocol and tree) for the control domain.
//
// What a guest can rely on:
//   /                          owner 0, no access for others (core.c setup_structure)
//   /tool/xenstored            owner 0
//   /local/domain              owner 0, no access for others
//   /local/domain/<id>         owner 0, read for <id>: name, domid, vm, cpu/, memory/{static-max,target},
//                              store/{port,ring-ref}, console/{port,ring-ref}, control/ (read) with
//                              control/{shutdown,feature-*,sysrq} (the domain's own), device/ (read) with
//                              device/suspend/event-channel (its own), and data/, drivers/, feature/,
//                              attr/, error/ owned by the domain, as libxl writes them (StoreSeeder)
//   /vm/<id>                   owner 0, read for <id>: name
//   @introduceDomain, @releaseDomain  special watch paths, fired on INTRODUCE and on RELEASE or shutdown
// A relative path names a node below /local/domain/<caller>.
//
// Every request of docs/misc/xenstore.txt but CONTROL, SET_TARGET and the optional feature and quota
// types is served; those answer ENOSYS, as xenstored answers any type it does not support. The store is
// single-threaded: the control domain's event loop calls Service when a domain's store channel fires.
//
// Memory: there is no collector, so every record and byte lives in pools sized by StoreLimits and
// allocated here, once. No request allocates from the heap. Node names, values and permissions live in a
// chunked ByteArena; nodes, watches, transactions, the nodes transactions touched and domain accounts are
// records in arrays with free lists.

using System;
using Keel.Ringlib.Protocols;

namespace Keel.Guests.Control.Store;

/// <summary>
/// The store: xenstored's tree, permissions, watches, transactions, quotas and domain connections.
/// Requests come from ring connections (<see cref="IntroduceDomain"/>, then <see cref="Service"/>), from
/// in-process connections (<see cref="OpenLocalConnection"/>, <see cref="Submit"/>,
/// <see cref="TakeOutput"/>), or, for the control domain's own writes, from the direct calls
/// (<see cref="Write"/>, <see cref="MakeDirectory"/>, <see cref="Remove"/>, <see cref="SetPermissions"/>,
/// <see cref="Read"/>), which act as the privileged domain outside any transaction.
/// </summary>
public sealed unsafe partial class StoreServer
{
    private const int Root = 0;
    private const int IntroduceNode = 1;
    private const int ReleaseNode = 2;

    /// <summary>Messages one Service call handles for a domain before it lets the others have a turn.</summary>
    private const int MessagesPerService = 16;

    private readonly StoreLimits _limits;
    private readonly StoreHost _domains;
    private readonly StoreHost _notifier;
    private readonly uint _privileged;
    private readonly ByteArena _arena;
    private readonly StoreConnection[] _connections;

    // Scratch space for one request at a time (the store is single-threaded).
    private readonly byte[] _path = new byte[StorePath.AbsoluteMax + StorePath.PrefixMax];   // the request's canonical path
    private readonly byte[] _walk = new byte[StorePath.AbsoluteMax + StorePath.PrefixMax];   // a node's path rebuilt from the tree
    private readonly byte[] _other = new byte[StorePath.AbsoluteMax + StorePath.PrefixMax];  // a transaction record's path
    private readonly byte[] _reply = new byte[Keel.Ringlib.Protocols.Store.PayloadMax];
    private readonly byte[] _token = new byte[Keel.Ringlib.Protocols.Store.PayloadMax];
    private readonly byte[] _permsA = new byte[Keel.Ringlib.Protocols.Store.PayloadMax * 2];
    private readonly byte[] _permsB = new byte[Keel.Ringlib.Protocols.Store.PayloadMax * 2];
    private int _replyLength;
    private bool _replySent;

    /// <summary>Builds the store with its pools and the initial tree (/, /tool/xenstored, /local/domain and
    /// the two special nodes, all owned by <paramref name="privileged"/> with no access for others).</summary>
    public StoreServer(StoreLimits limits, StoreHost host, uint privileged = 0)
    {
        _limits = limits;
        _domains = host;
        _notifier = host;
        _privileged = privileged;
        _arena = new ByteArena(limits.ArenaBytes / ByteArena.ChunkBytes);
        _connections = new StoreConnection[limits.Connections];
        for (int i = 0; i < _connections.Length; i++)
        {
            _connections[i] = new StoreConnection(limits.OutputBytes);
        }

        InitialiseNodes(limits.Nodes);
        InitialiseWatches(limits.Watches);
        InitialiseTransactions(limits.Transactions, limits.TransactionNodes);
        InitialiseAccounts(limits.Domains);
        _order = new int[limits.TransactionNodes];
        CreateInitialTree();
    }

    public uint PrivilegedDomain => _privileged;

    /// <summary>Nodes in the tree, including the root and the two special nodes.</summary>
    public int NodeCount => _usedNodes;

    /// <summary>Arena bytes not in use.</summary>
    public int FreeBytes => _arena.FreeChunks * ByteArena.ChunkBytes;

    /// <summary>Nodes the domain owns (the count its node quota bounds).</summary>
    public int NodesOwnedBy(uint domid)
    {
        int account = FindAccount(domid);
        return account < 0 ? 0 : _accounts[account].Nodes;
    }

    public StoreConnectionState ConnectionState(uint domid)
    {
        int connection = FindConnection(domid);
        return connection < 0 ? StoreConnectionState.None : _connections[connection].State;
    }

    public StoreConnectionFault ConnectionFault(uint domid)
    {
        int connection = FindConnection(domid);
        return connection < 0 ? StoreConnectionFault.None : _connections[connection].Fault;
    }

    /// <summary>Watch events dropped for the domain because it did not read its output.</summary>
    public int DroppedEvents(uint domid)
    {
        int connection = FindConnection(domid);
        return connection < 0 ? 0 : _connections[connection].DroppedEvents;
    }

    /// <summary>Opens an in-process connection for <paramref name="domid"/> (the control domain's own, or a
    /// test's). False when it already has a connection or none is free.</summary>
    public bool OpenLocalConnection(uint domid)
    {
        if (FindConnection(domid) >= 0 || EnsureAccount(domid) < 0)
        {
            return false;
        }

        int connection = FreeConnection();
        if (connection < 0)
        {
            return false;
        }

        _connections[connection].Reset(domid, StoreConnectionState.Local, null);
        return true;
    }

    /// <summary>Handles one request on <paramref name="domid"/>'s in-process connection and queues its reply.
    /// False, with nothing done, when there is no such connection or its output has no room for a largest
    /// reply (take the output first).</summary>
    public bool Submit(uint domid, in StoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        int connection = FindConnection(domid);
        if (connection < 0 || _connections[connection].State != StoreConnectionState.Local
            || _connections[connection].Output.Free < StoreConnection.MessageMax || payload.Length > (int)Keel.Ringlib.Protocols.Store.PayloadMax
            || payload.Length != (int)header.Length)
        {
            return false;
        }

        HandleMessage(connection, header, payload);
        return true;
    }

    /// <summary>Copies whole queued messages of an in-process connection into <paramref name="destination"/>
    /// (each a 16-byte header and its payload); returns the bytes copied.</summary>
    public int TakeOutput(uint domid, Span<byte> destination)
    {
        int connection = FindConnection(domid);
        if (connection < 0 || _connections[connection].State != StoreConnectionState.Local)
        {
            return 0;
        }

        return _connections[connection].Output.TakeMessages(destination);
    }

    /// <summary>
    /// Serves <paramref name="domid"/>'s ring: hands it queued output, reads and answers up to
    /// MessagesPerService requests, and notifies it when anything moved. Returns true when it should be
    /// called again soon (more requests may wait). Also flushes every other ring that requests answered
    /// here queued watch events for.
    /// </summary>
    public bool Service(uint domid)
    {
        int connection = FindConnection(domid);
        bool more = connection >= 0 && ServiceRing(connection);
        FlushAll();
        return more;
    }

    /// <summary>Serves every ring once; true when any asks to be called again.</summary>
    public bool ServiceAll()
    {
        bool more = false;
        for (int i = 0; i < _connections.Length; i++)
        {
            if (_connections[i].State == StoreConnectionState.Ring)
            {
                more |= ServiceRing(i);
            }
        }

        FlushAll();
        return more;
    }

    private bool ServiceRing(int index)
    {
        StoreConnection connection = _connections[index];
        if (connection.State != StoreConnectionState.Ring)
        {
            return false;
        }

        bool moved = false;
        bool more = false;
        for (int handled = 0; ; handled++)
        {
            if (!connection.Flush(ref moved))
            {
                CutOff(index, StoreConnectionFault.RingIndex);
                break;
            }

            // Backpressure: a request is read only while its largest reply would fit in the output, so a
            // peer that never reads replies stops being served and costs nothing more (xenstored stops
            // reading a domain over its outstanding-requests quota, domain.c domain_can_read).
            if (connection.Output.Free < StoreConnection.MessageMax)
            {
                break;
            }

            if (handled == MessagesPerService)
            {
                more = true;
                break;
            }

            StoreConnectionFault fault = connection.Fill(ref moved, out bool complete);
            if (fault != StoreConnectionFault.None)
            {
                CutOff(index, fault);
                break;
            }

            if (!complete)
            {
                break;
            }

            // Copy the header out of Input before handling: the payload stays in Input, which only this
            // connection's next Fill overwrites, and the ring itself is never read twice (XSA-155).
            StoreMessageHeader.TryRead(new ReadOnlySpan<byte>(connection.Input, 0, StoreMessageHeader.Bytes), out StoreMessageHeader header);
            connection.InputUsed = 0;
            HandleMessage(index, header, new ReadOnlySpan<byte>(connection.Input, StoreMessageHeader.Bytes, (int)header.Length));
            if (connection.State != StoreConnectionState.Ring)
            {
                break;
            }
        }

        if (moved && connection.State == StoreConnectionState.Ring)
        {
            _notifier.Notify(connection.Domid);
        }

        return more;
    }

    /// <summary>
    /// Hands every ring connection's queued output to its peer: what the direct calls (the control domain's
    /// own writes) queued for watchers reaches them now, not at their next request, which may never come.
    /// </summary>
    public void Flush() => FlushAll();

    /// <summary>Hands every ring connection's queued output to its peer (watch events others caused).</summary>
    private void FlushAll()
    {
        for (int i = 0; i < _connections.Length; i++)
        {
            StoreConnection connection = _connections[i];
            if (connection.State != StoreConnectionState.Ring || connection.Output.Count == 0)
            {
                continue;
            }

            bool moved = false;
            if (!connection.Flush(ref moved))
            {
                CutOff(i, StoreConnectionFault.RingIndex);
            }
            else if (moved)
            {
                _notifier.Notify(connection.Domid);
            }
        }
    }

    /// <summary>Stops serving a connection for good (domain.c ignore_connection): its watches, transactions
    /// and queued output go; the record stays until RELEASE.</summary>
    private void CutOff(int index, StoreConnectionFault fault)
    {
        StoreConnection connection = _connections[index];
        DropWatches(index);
        DropTransactions(index);
        connection.Output.Clear();
        connection.InputUsed = 0;
        connection.State = StoreConnectionState.CutOff;
        connection.Fault = fault;
    }

    private int FindConnection(uint domid)
    {
        for (int i = 0; i < _connections.Length; i++)
        {
            if (_connections[i].State != StoreConnectionState.None && _connections[i].Domid == domid)
            {
                return i;
            }
        }

        return -1;
    }

    private int FreeConnection()
    {
        for (int i = 0; i < _connections.Length; i++)
        {
            if (_connections[i].State == StoreConnectionState.None)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Who is asking, and in which transaction.</summary>
    private struct Caller
    {
        public uint Domid;
        public bool Privileged;

        /// <summary>The connection, or -1 for the direct calls.</summary>
        public int Connection;

        /// <summary>The transaction record, or -1 outside any.</summary>
        public int Transaction;
    }

    private Caller PrivilegedCaller => new Caller { Domid = _privileged, Privileged = true, Connection = -1, Transaction = -1 };

    /// <summary>Answers one whole message: the reply (or an Error naming the errno) echoes req_id and tx_id
    /// (xenstore.txt: "Generally requests each generate a reply with an identical type, req_id and tx_id").</summary>
    private void HandleMessage(int connection, in StoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        StoreConnection owner = _connections[connection];
        var caller = new Caller
        {
            Domid = owner.Domid,
            Privileged = owner.Domid == _privileged,
            Connection = connection,
            Transaction = -1,
        };
        _replyLength = 0;
        _replySent = false;
        StoreError error = Dispatch(ref caller, header, payload);
        if (!_replySent && owner.Serving)
        {
            QueueReply(connection, header, error);
        }
    }

    private void QueueReply(int connection, in StoreMessageHeader header, StoreError error)
    {
        OutputQueue output = _connections[connection].Output;
        if (error == StoreError.None)
        {
            output.TryEnqueue(header.Type, header.RequestId, header.TransactionId,
                              new ReadOnlySpan<byte>(_reply, 0, _replyLength), default, default, default);
        }
        else
        {
            output.TryEnqueue((uint)StoreMessageType.Error, header.RequestId, header.TransactionId,
                              Keel.Ringlib.Protocols.Store.ErrorName(error), "\0"u8, default, default);
        }

        _replySent = true;
    }

    /// <summary>The types only the privileged domain may send (core.c wire_funcs XS_FLAG_PRIV).</summary>
    private static bool PrivilegedOnly(StoreMessageType type)
        => type == StoreMessageType.Introduce || type == StoreMessageType.Release || type == StoreMessageType.IsDomainIntroduced
           || type == StoreMessageType.Resume || type == StoreMessageType.SetTarget || type == StoreMessageType.Control;

    private StoreError Dispatch(ref Caller caller, in StoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        var type = (StoreMessageType)header.Type;
        if (header.Type >= (uint)StoreMessageType.TypeCount || header.Type == 20 || type == StoreMessageType.WatchEvent
            || type == StoreMessageType.Error || type == StoreMessageType.Control || type == StoreMessageType.SetTarget)
        {
            return StoreError.ENOSYS;
        }

        if (PrivilegedOnly(type) && !caller.Privileged)
        {
            return StoreError.EACCES;
        }

        // WATCH and UNWATCH ignore tx_id (XS_FLAG_NOTID); elsewhere an id this connection did not open is
        // ENOENT, so one domain can never reach another's transaction (transaction.c transaction_lookup).
        if (header.TransactionId != 0 && type != StoreMessageType.Watch && type != StoreMessageType.Unwatch)
        {
            caller.Transaction = FindTransaction(caller.Connection, header.TransactionId);
            if (caller.Transaction < 0)
            {
                return StoreError.ENOENT;
            }
        }

        switch (type)
        {
            case StoreMessageType.Read: return DoRead(ref caller, payload);
            case StoreMessageType.Directory: return DoDirectory(ref caller, payload);
            case StoreMessageType.DirectoryPart: return DoDirectoryPart(ref caller, payload);
            case StoreMessageType.GetPermissions: return DoGetPermissions(ref caller, payload);
            case StoreMessageType.Write: return DoWrite(ref caller, payload, false);
            case StoreMessageType.Mkdir: return DoWrite(ref caller, payload, true);
            case StoreMessageType.Remove: return DoRemove(ref caller, payload);
            case StoreMessageType.SetPermissions: return DoSetPermissions(ref caller, payload);
            case StoreMessageType.Watch: return DoWatch(ref caller, header, payload);
            case StoreMessageType.Unwatch: return DoUnwatch(ref caller, payload);
            case StoreMessageType.TransactionStart: return DoTransactionStart(ref caller);
            case StoreMessageType.TransactionEnd: return DoTransactionEnd(ref caller, payload);
            case StoreMessageType.GetDomainPath: return DoGetDomainPath(payload);
            case StoreMessageType.Introduce: return DoIntroduce(payload);
            case StoreMessageType.Release: return DoRelease(payload);
            case StoreMessageType.IsDomainIntroduced: return DoIsDomainIntroduced(payload);
            case StoreMessageType.Resume: return DoResume(payload);
            case StoreMessageType.ResetWatches: return DoResetWatches(ref caller);
            default: return StoreError.ENOSYS;
        }
    }

    private void ReplyBytes(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_reply);
        _replyLength = bytes.Length;
    }

    private void ReplyOk() => ReplyBytes("OK\0"u8);

    // The direct calls: the control domain's own requests, as the privileged domain outside transactions.

    /// <summary>WRITE as the privileged domain: creates missing parents, fires watches.</summary>
    public StoreError Write(ReadOnlySpan<byte> path, ReadOnlySpan<byte> value)
    {
        Caller caller = PrivilegedCaller;
        if (path.Length == 0 || path.Length > StorePath.AbsoluteMax || path.IndexOf((byte)0) >= 0)
        {
            return StoreError.EINVAL;
        }

        return WriteNode(ref caller, path, value, false);
    }

    /// <summary>MKDIR as the privileged domain.</summary>
    public StoreError MakeDirectory(ReadOnlySpan<byte> path)
    {
        Caller caller = PrivilegedCaller;
        if (path.Length == 0 || path.Length > StorePath.AbsoluteMax || path.IndexOf((byte)0) >= 0)
        {
            return StoreError.EINVAL;
        }

        return WriteNode(ref caller, path, default, true);
    }

    /// <summary>RM as the privileged domain.</summary>
    public StoreError Remove(ReadOnlySpan<byte> path)
    {
        Caller caller = PrivilegedCaller;
        if (path.Length == 0 || path.Length > StorePath.AbsoluteMax || path.IndexOf((byte)0) >= 0)
        {
            return StoreError.EINVAL;
        }

        return RemoveNode(ref caller, path);
    }

    /// <summary>SET_PERMS as the privileged domain; <paramref name="permissions"/> is the wire form, each
    /// entry NUL-terminated ("n0\0r5\0").</summary>
    public StoreError SetPermissions(ReadOnlySpan<byte> path, ReadOnlySpan<byte> permissions)
    {
        Caller caller = PrivilegedCaller;
        if (path.Length == 0 || path.Length > StorePath.AbsoluteMax || path.IndexOf((byte)0) >= 0)
        {
            return StoreError.EINVAL;
        }

        return SetNodePermissions(ref caller, path, permissions, StorePath.CountStrings(permissions));
    }

    /// <summary>READ as the privileged domain: the value into <paramref name="destination"/>, or E2BIG when
    /// it does not fit.</summary>
    public StoreError Read(ReadOnlySpan<byte> path, Span<byte> destination, out int length)
    {
        length = 0;
        Caller caller = PrivilegedCaller;
        if (path.Length == 0 || path.Length > StorePath.AbsoluteMax || path.IndexOf((byte)0) >= 0)
        {
            return StoreError.EINVAL;
        }

        _replyLength = 0;
        StoreError error = ReadNode(ref caller, path);
        if (error != StoreError.None)
        {
            return error;
        }

        if (_replyLength > destination.Length)
        {
            return StoreError.E2BIG;
        }

        new ReadOnlySpan<byte>(_reply, 0, _replyLength).CopyTo(destination);
        length = _replyLength;
        return StoreError.None;
    }

    /// <summary>DIRECTORY as the privileged domain: the children's names, each NUL-terminated, into
    /// <paramref name="destination"/>, or E2BIG when they do not fit.</summary>
    public StoreError Directory(ReadOnlySpan<byte> path, Span<byte> destination, out int length)
    {
        length = 0;
        Caller caller = PrivilegedCaller;
        if (path.Length == 0 || path.Length > StorePath.AbsoluteMax || path.IndexOf((byte)0) >= 0)
        {
            return StoreError.EINVAL;
        }

        StoreError error = LookChecked(caller, path, Permissions.Read, out NodeView view);
        if (error != StoreError.None)
        {
            return error;
        }

        int listed = ListChildren(caller, path, view, _list, out bool complete);
        if (!complete || listed > destination.Length)
        {
            return StoreError.E2BIG;
        }

        new ReadOnlySpan<byte>(_list, 0, listed).CopyTo(destination);
        length = listed;
        return StoreError.None;
    }
}

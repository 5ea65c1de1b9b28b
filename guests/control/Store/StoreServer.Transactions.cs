using System;
using Keel.Ringlib.Protocols;

namespace Keel.Guests.Control.Store;

/// <summary>An open transaction.</summary>
internal struct TransactionRecord
{
    public bool InUse;
    public int Connection;
    public uint Id;
    public int NextInConnection;

    /// <summary>The records of the nodes it touched, in the order first touched.</summary>
    public int FirstAccess;
    public int LastAccess;
    public int Accesses;
}

/// <summary>
/// A node a transaction looked at or changed (transaction.c struct accessed_node). Every path the
/// transaction's requests looked up has one, with the generation the node had then (0: absent); commit
/// fails with EAGAIN when any of those generations changed. A changed node's state in the transaction
/// (exists, value, permissions) lives here until commit.
/// </summary>
internal struct AccessRecord
{
    public bool InUse;
    public int Next;
    public Blob Path;
    public uint Hash;
    public ulong Generation;

    /// <summary>The node existed and was the transaction's domain's when first looked at: what its node
    /// quota counts until commit.</summary>
    public bool OwnedBefore;

    /// <summary>The transaction changed the node: Exists, Value and Perms are its state in the transaction.</summary>
    public bool Modified;
    public bool Exists;
    public Blob Value;
    public Blob Perms;
    public uint Owner;

    /// <summary>The watch event commit fires (queue_watches): none, exact, or the node and everything below.</summary>
    public WatchMatch Fire;
}

/// <summary>How an event's path is matched against watch paths (watch.c enum watch_match).</summary>
internal enum WatchMatch : byte
{
    None = 0,

    /// <summary>Only watches on exactly that path (the descendants of a removed node, the special events).</summary>
    Exact = 1,

    /// <summary>Watches on that path or any of its ancestors.</summary>
    Subtree = 2,
}

/// <summary>A node as a request sees it: through its transaction, or the tree.</summary>
internal struct NodeView
{
    public bool Exists;

    /// <summary>The node in the tree, or -1.</summary>
    public int Node;

    /// <summary>The transaction's record when the transaction changed the node (its state is there), or -1.</summary>
    public int Access;
}

public sealed unsafe partial class StoreServer
{
    private TransactionRecord[] _transactions;
    private AccessRecord[] _accesses;
    private int _freeAccess;
    private int _usedAccesses;
    private int[] _order;

    private void InitialiseTransactions(int transactions, int accesses)
    {
        _transactions = new TransactionRecord[transactions];
        _accesses = new AccessRecord[accesses];
        for (int i = 0; i < _accesses.Length; i++)
        {
            _accesses[i].Next = i + 1 < _accesses.Length ? i + 1 : -1;
        }

        _freeAccess = _accesses.Length > 0 ? 0 : -1;
    }

    private int FindTransaction(int connection, uint id)
    {
        if (connection < 0)
        {
            return -1;
        }

        for (int t = _connections[connection].FirstTransaction; t >= 0; t = _transactions[t].NextInConnection)
        {
            if (_transactions[t].Id == id)
            {
                return t;
            }
        }

        return -1;
    }

    /// <summary>The transaction's record for a path, or -1.</summary>
    private int FindAccess(int transaction, ReadOnlySpan<byte> path, uint hash)
    {
        for (int a = _transactions[transaction].FirstAccess; a >= 0; a = _accesses[a].Next)
        {
            if (_accesses[a].Hash == hash && _arena.Equals(_accesses[a].Path, path))
            {
                return a;
            }
        }

        return -1;
    }

    private uint TransactionDomain(int transaction) => _connections[_transactions[transaction].Connection].Domid;

    /// <summary>The room <paramref name="records"/> new access records holding <paramref name="pathBytes"/>
    /// bytes of paths need: ENOSPC over the transaction-nodes quota, ENOMEM when a pool is short.</summary>
    private StoreError MayRecord(in Caller caller, int records, int pathChunks)
    {
        if (records == 0)
        {
            return StoreError.None;
        }

        if (!caller.Privileged && _transactions[caller.Transaction].Accesses + records > _limits.TransactionNodeQuota)
        {
            return StoreError.ENOSPC;
        }

        if (_usedAccesses + records > _accesses.Length)
        {
            return StoreError.ENOMEM;
        }

        MayCharge(caller.Domid, pathChunks, true, out StoreError error);
        return error;
    }

    /// <summary>
    /// Looks a path up as the caller sees it. Inside a transaction the first look at a path is recorded
    /// with the node's generation then; later looks see the transaction's own change if it made one, and
    /// otherwise the tree as it is now (a transaction whose node changed beneath it cannot commit, so it
    /// never acts on what it saw). Fails only when a first look cannot be recorded.
    /// </summary>
    private StoreError Look(in Caller caller, ReadOnlySpan<byte> path, out NodeView view)
    {
        int node = FindNode(path);
        view = new NodeView { Exists = node >= 0, Node = node, Access = -1 };
        if (caller.Transaction < 0)
        {
            return StoreError.None;
        }

        uint hash = StorePath.Hash(path);
        int access = FindAccess(caller.Transaction, path, hash);
        if (access < 0)
        {
            StoreError error = MayRecord(caller, 1, ByteArena.ChunksFor(path.Length));
            if (error != StoreError.None)
            {
                return error;
            }

            access = NewAccess(caller.Transaction, path, hash, node);
        }

        if (_accesses[access].Modified)
        {
            view.Exists = _accesses[access].Exists;
            view.Access = access;
        }

        return StoreError.None;
    }

    /// <summary>What the transaction sees at a path, without recording a look (for listing children).</summary>
    private bool ExistsInTransaction(int transaction, ReadOnlySpan<byte> path, int node)
    {
        int access = FindAccess(transaction, path, StorePath.Hash(path));
        return access >= 0 && _accesses[access].Modified ? _accesses[access].Exists : node >= 0;
    }

    private int NewAccess(int transaction, ReadOnlySpan<byte> path, uint hash, int node)
    {
        int access = _freeAccess;
        _freeAccess = _accesses[access].Next;
        _usedAccesses++;
        uint domid = TransactionDomain(transaction);
        _accesses[access] = new AccessRecord
        {
            InUse = true,
            Next = -1,
            Path = StoreCharged(domid, path),
            Hash = hash,
            Generation = node >= 0 ? _nodes[node].Generation : 0,
            OwnedBefore = node >= 0 && _nodes[node].Owner == domid,
        };
        ref TransactionRecord t = ref _transactions[transaction];
        if (t.LastAccess < 0)
        {
            t.FirstAccess = access;
        }
        else
        {
            _accesses[t.LastAccess].Next = access;
        }

        t.LastAccess = access;
        t.Accesses++;
        return access;
    }

    /// <summary>Nodes the caller's domain owns as its transaction sees them (its node quota's count).</summary>
    private int OwnedInTransaction(in Caller caller)
    {
        int account = FindAccount(caller.Domid);
        int owned = account < 0 ? 0 : _accounts[account].Nodes;
        if (caller.Transaction < 0)
        {
            return owned;
        }

        for (int a = _transactions[caller.Transaction].FirstAccess; a >= 0; a = _accesses[a].Next)
        {
            if (_accesses[a].Modified)
            {
                owned += (_accesses[a].Exists && _accesses[a].Owner == caller.Domid ? 1 : 0) - (_accesses[a].OwnedBefore ? 1 : 0);
            }
        }

        return owned;
    }

    /// <summary>Sets a recorded node's state in the transaction; the caller checked the arena has room for
    /// the value and permissions (charged to the transaction's domain).</summary>
    private void SetAccess(int transaction, int access, bool exists, ReadOnlySpan<byte> value, ReadOnlySpan<byte> perms, WatchMatch fire)
    {
        if (access < 0)
        {
            return;
        }

        ref AccessRecord record = ref _accesses[access];
        uint domid = TransactionDomain(transaction);
        ReleaseCharged(domid, ref record.Value);
        ReleaseCharged(domid, ref record.Perms);
        record.Modified = true;
        record.Exists = exists;
        if (exists)
        {
            record.Value = StoreCharged(domid, value);
            record.Perms = StoreCharged(domid, perms);
            record.Owner = Permissions.Domain(perms, 0);
        }

        if (fire > record.Fire)
        {
            record.Fire = fire;
        }
    }

    private StoreError DoTransactionStart(ref Caller caller)
    {
        if (caller.Transaction >= 0)
        {
            return StoreError.EBUSY;
        }

        if (caller.Connection < 0)
        {
            return StoreError.EINVAL;
        }

        int account = EnsureAccount(caller.Domid);
        if (account < 0)
        {
            return StoreError.ENOMEM;
        }

        if (!caller.Privileged && _accounts[account].Transactions >= _limits.TransactionQuota)
        {
            return StoreError.ENOSPC;
        }

        int transaction = -1;
        for (int i = 0; i < _transactions.Length; i++)
        {
            if (!_transactions[i].InUse)
            {
                transaction = i;
                break;
            }
        }

        if (transaction < 0)
        {
            return StoreError.ENOMEM;
        }

        // A connection-local id, never 0 and never one in use (transaction.c do_transaction_start).
        StoreConnection connection = _connections[caller.Connection];
        uint id;
        do
        {
            id = connection.NextTransactionId++;
        }
        while (id == 0 || FindTransaction(caller.Connection, id) >= 0);

        _transactions[transaction] = new TransactionRecord
        {
            InUse = true,
            Connection = caller.Connection,
            Id = id,
            NextInConnection = connection.FirstTransaction,
            FirstAccess = -1,
            LastAccess = -1,
        };
        connection.FirstTransaction = transaction;
        _accounts[account].Transactions++;
        int length = DecimalText.Write(id, _reply);
        _reply[length++] = 0;
        _replyLength = length;
        return StoreError.None;
    }

    private StoreError DoTransactionEnd(ref Caller caller, ReadOnlySpan<byte> payload)
    {
        if (!StorePath.OneArgument(payload, out ReadOnlySpan<byte> argument)
            || argument.Length != 1 || (argument[0] != (byte)'T' && argument[0] != (byte)'F'))
        {
            return StoreError.EINVAL;
        }

        if (caller.Transaction < 0)
        {
            return StoreError.ENOENT;
        }

        StoreError error = argument[0] == (byte)'T' ? Commit(ref caller) : StoreError.None;
        // The transaction ends whatever the outcome (transaction.c frees it with the request's context).
        EndTransaction(caller.Transaction);
        if (error == StoreError.None)
        {
            ReplyOk();
        }

        return error;
    }

    /// <summary>
    /// Commits: ENOSPC when the domain would own more nodes than its quota, EAGAIN when any node the
    /// transaction looked at has changed since, ENOMEM when the pools cannot hold the new nodes; then applies
    /// the changes (parents before children, children before their parents for removals) and fires the
    /// watches each change queued, with the old permissions as watch.c does.
    /// </summary>
    private StoreError Commit(ref Caller caller)
    {
        int transaction = caller.Transaction;
        if (!caller.Privileged && OwnedInTransaction(caller) > _limits.NodeQuota)
        {
            return StoreError.ENOSPC;
        }

        int changed = 0;
        int creations = 0;
        int nameChunks = 0;
        for (int a = _transactions[transaction].FirstAccess; a >= 0; a = _accesses[a].Next)
        {
            int length = AccessPath(a, _other);
            int node = FindNode(new ReadOnlySpan<byte>(_other, 0, length));
            ulong generation = node >= 0 ? _nodes[node].Generation : 0;
            if (generation != _accesses[a].Generation)
            {
                return StoreError.EAGAIN;
            }

            if (!_accesses[a].Modified)
            {
                continue;
            }

            _order[changed++] = a;
            if (_accesses[a].Exists && EnsureAccount(_accesses[a].Owner) < 0)
            {
                return StoreError.ENOMEM;
            }

            if (_accesses[a].Exists && node < 0)
            {
                creations++;
                nameChunks += ByteArena.ChunksFor(length - StorePath.ParentLength(new ReadOnlySpan<byte>(_other, 0, length)));
            }
        }

        if (creations > FreeNodes || nameChunks > _arena.FreeChunks)
        {
            return StoreError.ENOMEM;
        }

        SortByPathLength(changed);
        uint domid = caller.Domid;
        for (int i = 0; i < changed; i++)
        {
            if (_accesses[_order[i]].Exists)
            {
                ApplyExisting(_order[i], domid);
            }
        }

        for (int i = changed - 1; i >= 0; i--)
        {
            if (!_accesses[_order[i]].Exists)
            {
                ApplyRemoved(_order[i]);
            }
        }

        return StoreError.None;
    }

    private int AccessPath(int access, Span<byte> destination)
    {
        _arena.CopyTo(_accesses[access].Path, destination);
        return _accesses[access].Path.Length;
    }

    /// <summary>Orders _order[0..count) by path length: a parent's path is shorter than its children's.</summary>
    private void SortByPathLength(int count)
    {
        for (int i = 1; i < count; i++)
        {
            int item = _order[i];
            int j = i - 1;
            while (j >= 0 && _accesses[_order[j]].Path.Length > _accesses[item].Path.Length)
            {
                _order[j + 1] = _order[j];
                j--;
            }

            _order[j + 1] = item;
        }
    }

    /// <summary>Commit of a node that exists in the transaction: creates it under its (existing or just
    /// created) parent, or replaces its value and permissions. The record's bytes move into the node, and
    /// their charge from the transaction's domain to the node's owner.</summary>
    private void ApplyExisting(int access, uint domid)
    {
        ref AccessRecord record = ref _accesses[access];
        int length = AccessPath(access, _other);
        ReadOnlySpan<byte> path = new ReadOnlySpan<byte>(_other, 0, length);
        int node = FindNode(path);
        bool hadNode = node >= 0;
        Blob oldPerms = default;
        _accounts[FindAccount(domid)].Chunks -= Chunks(record.Value) + Chunks(record.Perms);
        if (!hadNode)
        {
            int parentLength = StorePath.ParentLength(path);
            int parent = FindNode(path.Slice(0, parentLength));
            if (parent < 0)
            {
                // Not reachable when the transaction saw a consistent tree; keep the bytes accounted and go on.
                _accounts[FindAccount(domid)].Chunks += Chunks(record.Value) + Chunks(record.Perms);
                return;
            }

            _arena.TryStore(path.Slice(parentLength == 1 ? 1 : parentLength + 1), out Blob name);
            node = LinkNewNode(parent, name, record.Value, record.Perms, record.Owner);
        }
        else
        {
            ref NodeRecord existing = ref _nodes[node];
            int previous = FindAccount(existing.Owner);
            _accounts[previous].Nodes--;
            _accounts[previous].Chunks -= Chunks(existing.Name) + Chunks(existing.Value) + Chunks(existing.Perms);
            _arena.Release(ref existing.Value);
            oldPerms = existing.Perms;
            existing.Value = record.Value;
            existing.Perms = record.Perms;
            existing.Owner = record.Owner;
            existing.Generation = ++_generation;
            int owner = FindAccount(existing.Owner);
            _accounts[owner].Nodes++;
            _accounts[owner].Chunks += Chunks(existing.Name) + Chunks(existing.Value) + Chunks(existing.Perms);
        }

        record.Value = default;
        record.Perms = default;
        if (record.Fire != WatchMatch.None)
        {
            FireWatches(path, record.Fire, node, oldPerms, hadNode);
        }

        _arena.Release(ref oldPerms);
    }

    /// <summary>Commit of a node the transaction removed: frees it (its children went first).</summary>
    private void ApplyRemoved(int access)
    {
        ref AccessRecord record = ref _accesses[access];
        int length = AccessPath(access, _other);
        ReadOnlySpan<byte> path = new ReadOnlySpan<byte>(_other, 0, length);
        int node = FindNode(path);
        if (node < 0 || node == Root || _nodes[node].Parent < 0)
        {
            return;
        }

        while (_nodes[node].FirstChild >= 0)
        {
            RemoveTree(_nodes[node].FirstChild, false, default);
        }

        if (record.Fire != WatchMatch.None)
        {
            // The node is gone once the commit is done: only its old permissions decide who hears of it.
            FireWatches(path, record.Fire, -1, _nodes[node].Perms, true);
        }

        FreeNode(node);
    }

    /// <summary>Ends a transaction, freeing its records and their bytes.</summary>
    private void EndTransaction(int transaction)
    {
        ref TransactionRecord t = ref _transactions[transaction];
        uint domid = TransactionDomain(transaction);
        int a = t.FirstAccess;
        while (a >= 0)
        {
            int next = _accesses[a].Next;
            ReleaseCharged(domid, ref _accesses[a].Path);
            ReleaseCharged(domid, ref _accesses[a].Value);
            ReleaseCharged(domid, ref _accesses[a].Perms);
            _accesses[a] = new AccessRecord { Next = _freeAccess };
            _freeAccess = a;
            _usedAccesses--;
            a = next;
        }

        StoreConnection connection = _connections[t.Connection];
        if (connection.FirstTransaction == transaction)
        {
            connection.FirstTransaction = t.NextInConnection;
        }
        else
        {
            int previous = connection.FirstTransaction;
            while (_transactions[previous].NextInConnection != transaction)
            {
                previous = _transactions[previous].NextInConnection;
            }

            _transactions[previous].NextInConnection = t.NextInConnection;
        }

        int account = FindAccount(domid);
        if (account >= 0)
        {
            _accounts[account].Transactions--;
        }

        t = default;
    }

    /// <summary>Ends every transaction of a connection (RESET_WATCHES, RELEASE, cut-off).</summary>
    private void DropTransactions(int connection)
    {
        while (_connections[connection].FirstTransaction >= 0)
        {
            EndTransaction(_connections[connection].FirstTransaction);
        }
    }
}

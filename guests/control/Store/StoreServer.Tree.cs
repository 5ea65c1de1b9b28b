using System;
using Keel.Ringlib.Protocols;

namespace Keel.Guests.Control.Store;

/// <summary>One node of the tree. Children are kept sorted by name, so DIRECTORY lists them in byte order
/// (xenstored lists them in creation order; the protocol promises no order).</summary>
internal struct NodeRecord
{
    public bool InUse;

    /// <summary>-1 for the root and the special nodes.</summary>
    public int Parent;

    public int FirstChild;

    /// <summary>The next sibling in name order; for a free record, the next free record.</summary>
    public int NextSibling;

    /// <summary>The last path component (empty for the root; the whole name for a special node).</summary>
    public Blob Name;

    public Blob Value;

    /// <summary>Permission entries, <see cref="Permissions.EntryBytes"/> each; the first is the owner's.</summary>
    public Blob Perms;

    /// <summary>The domain of the first permission entry, whose node quota and memory this node counts in.</summary>
    public uint Owner;

    /// <summary>Set from the store's counter whenever the node's value, permissions or list of children
    /// changes (transaction.c: the basis of conflict detection); never 0, which means "absent".</summary>
    public ulong Generation;
}

/// <summary>The accounts one domain's quotas are checked against (domain.c struct domain's acc[]).</summary>
internal struct DomainAccount
{
    public bool InUse;
    public uint Domid;

    /// <summary>Nodes it owns.</summary>
    public int Nodes;

    /// <summary>Arena chunks charged to it: its nodes, its watches, its transactions' records.</summary>
    public int Chunks;

    public int Watches;
    public int Transactions;

    /// <summary>@releaseDomain was fired for its shutdown and is not fired again until RESUME.</summary>
    public bool ShutdownReported;
}

public sealed unsafe partial class StoreServer
{
    private NodeRecord[] _nodes;
    private int _freeNode;
    private int _usedNodes;
    private ulong _generation;
    private DomainAccount[] _accounts;

    private void InitialiseNodes(int count)
    {
        _nodes = new NodeRecord[count < 3 ? 3 : count];
        for (int i = 0; i < _nodes.Length; i++)
        {
            _nodes[i].NextSibling = i + 1 < _nodes.Length ? i + 1 : -1;
            _nodes[i].Parent = -1;
            _nodes[i].FirstChild = -1;
        }

        _freeNode = 0;
    }

    private void InitialiseAccounts(int count)
    {
        _accounts = new DomainAccount[count < 1 ? 1 : count];
    }

    private void CreateInitialTree()
    {
        Span<byte> perms = stackalloc byte[Permissions.EntryBytes];
        Permissions.WriteEntry(perms, 0, _privileged, 0);
        EnsureAccount(_privileged);
        // Records 0, 1 and 2: Root, IntroduceNode, ReleaseNode.
        int root = NewNode(-1, default, default, perms);
        NewNode(-1, StorePath.IntroduceDomain, default, perms);
        NewNode(-1, StorePath.ReleaseDomain, default, perms);
        int tool = NewNode(root, "tool"u8, default, perms);
        NewNode(tool, "xenstored"u8, default, perms);
        int local = NewNode(root, "local"u8, default, perms);
        NewNode(local, "domain"u8, default, perms);
    }

    /// <summary>Takes a node record and links it under <paramref name="parent"/>, storing the bytes; the
    /// caller has checked there is room (a node record, the chunks, the owner's account).</summary>
    private int NewNode(int parent, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, ReadOnlySpan<byte> perms)
    {
        _arena.TryStore(name, out Blob nameBlob);
        _arena.TryStore(value, out Blob valueBlob);
        _arena.TryStore(perms, out Blob permsBlob);
        return LinkNewNode(parent, nameBlob, valueBlob, permsBlob, Permissions.Domain(perms, 0));
    }

    /// <summary>Takes a node record for blobs already stored (now the node's), links it under
    /// <paramref name="parent"/> (-1 for the root and the special nodes) and charges them to the owner.</summary>
    private int LinkNewNode(int parent, Blob name, Blob value, Blob perms, uint owner)
    {
        int node = _freeNode;
        _freeNode = _nodes[node].NextSibling;
        _usedNodes++;
        ref NodeRecord record = ref _nodes[node];
        record.InUse = true;
        record.Parent = parent;
        record.FirstChild = -1;
        record.NextSibling = -1;
        record.Name = name;
        record.Value = value;
        record.Perms = perms;
        record.Owner = owner;
        record.Generation = ++_generation;
        int account = FindAccount(owner);
        _accounts[account].Nodes++;
        _accounts[account].Chunks += Chunks(name) + Chunks(value) + Chunks(perms);
        if (parent >= 0)
        {
            LinkChild(parent, node);
        }

        return node;
    }

    /// <summary>Inserts <paramref name="child"/> in name order among <paramref name="parent"/>'s children.</summary>
    private void LinkChild(int parent, int child)
    {
        int previous = -1;
        int next = _nodes[parent].FirstChild;
        while (next >= 0 && _arena.Compare(_nodes[next].Name, _nodes[child].Name) < 0)
        {
            previous = next;
            next = _nodes[next].NextSibling;
        }

        _nodes[child].NextSibling = next;
        if (previous < 0)
        {
            _nodes[parent].FirstChild = child;
        }
        else
        {
            _nodes[previous].NextSibling = child;
        }

        _nodes[parent].Generation = ++_generation;
    }

    /// <summary>Unlinks a childless node from its parent and frees it with its bytes.</summary>
    private void FreeNode(int node)
    {
        ref NodeRecord record = ref _nodes[node];
        int parent = record.Parent;
        if (parent >= 0)
        {
            int previous = -1;
            int current = _nodes[parent].FirstChild;
            while (current >= 0 && current != node)
            {
                previous = current;
                current = _nodes[current].NextSibling;
            }

            if (previous < 0)
            {
                _nodes[parent].FirstChild = record.NextSibling;
            }
            else
            {
                _nodes[previous].NextSibling = record.NextSibling;
            }

            _nodes[parent].Generation = ++_generation;
        }

        int account = FindAccount(record.Owner);
        _accounts[account].Nodes--;
        _accounts[account].Chunks -= Chunks(record.Name) + Chunks(record.Value) + Chunks(record.Perms);
        _arena.Release(ref record.Name);
        _arena.Release(ref record.Value);
        _arena.Release(ref record.Perms);
        record.InUse = false;
        record.Parent = -1;
        record.FirstChild = -1;
        record.NextSibling = _freeNode;
        _freeNode = node;
        _usedNodes--;
    }

    private static int Chunks(Blob blob) => ByteArena.ChunksFor(blob.Length);

    private int FreeNodes => _nodes.Length - _usedNodes;

    /// <summary>The node at an absolute or special path, or -1.</summary>
    private int FindNode(ReadOnlySpan<byte> path)
    {
        if (path.Length == 0)
        {
            return -1;
        }

        if (path[0] == (byte)'@')
        {
            return path.SequenceEqual(StorePath.IntroduceDomain) ? IntroduceNode
                : path.SequenceEqual(StorePath.ReleaseDomain) ? ReleaseNode : -1;
        }

        int node = Root;
        int start = 1;
        while (start < path.Length && node >= 0)
        {
            int end = start;
            while (end < path.Length && path[end] != (byte)'/')
            {
                end++;
            }

            node = FindChild(node, path.Slice(start, end - start));
            start = end + 1;
        }

        return node;
    }

    private int FindChild(int parent, ReadOnlySpan<byte> name)
    {
        for (int child = _nodes[parent].FirstChild; child >= 0; child = _nodes[child].NextSibling)
        {
            int order = _arena.Compare(_nodes[child].Name, name);
            if (order == 0)
            {
                return child;
            }

            if (order > 0)
            {
                break;
            }
        }

        return -1;
    }

    /// <summary>Rebuilds the absolute path of <paramref name="node"/> into <paramref name="destination"/>;
    /// returns its length.</summary>
    private int BuildPath(int node, Span<byte> destination)
    {
        if (_nodes[node].Parent < 0)
        {
            if (node == Root)
            {
                destination[0] = (byte)'/';
                return 1;
            }

            _arena.CopyTo(_nodes[node].Name, destination);
            return _nodes[node].Name.Length;
        }

        int length = 0;
        for (int n = node; n != Root; n = _nodes[n].Parent)
        {
            length += 1 + _nodes[n].Name.Length;
        }

        int end = length;
        for (int n = node; n != Root; n = _nodes[n].Parent)
        {
            Blob name = _nodes[n].Name;
            end -= name.Length;
            _arena.CopyTo(name, destination.Slice(end, name.Length));
            destination[--end] = (byte)'/';
        }

        return length;
    }

    /// <summary>The next node after <paramref name="node"/> in a pre-order walk of <paramref name="top"/>'s
    /// subtree, or -1 at its end. No stack: paths may be a thousand levels deep.</summary>
    private int NextInSubtree(int node, int top)
    {
        if (_nodes[node].FirstChild >= 0)
        {
            return _nodes[node].FirstChild;
        }

        while (node != top && _nodes[node].NextSibling < 0)
        {
            node = _nodes[node].Parent;
        }

        return node == top ? -1 : _nodes[node].NextSibling;
    }

    // Domain accounts.

    private int FindAccount(uint domid)
    {
        for (int i = 0; i < _accounts.Length; i++)
        {
            if (_accounts[i].InUse && _accounts[i].Domid == domid)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The domain's account, made if need be (reusing one nobody needs any longer); -1 when the
    /// table is full.</summary>
    private int EnsureAccount(uint domid)
    {
        int found = FindAccount(domid);
        if (found >= 0)
        {
            return found;
        }

        for (int i = 0; i < _accounts.Length; i++)
        {
            if (!_accounts[i].InUse || Idle(i))
            {
                _accounts[i] = new DomainAccount { InUse = true, Domid = domid };
                return i;
            }
        }

        return -1;
    }

    private bool Idle(int account)
    {
        ref DomainAccount a = ref _accounts[account];
        return a.Nodes == 0 && a.Chunks == 0 && a.Watches == 0 && a.Transactions == 0 && !a.ShutdownReported
               && a.Domid != _privileged && FindConnection(a.Domid) < 0;
    }

    /// <summary>True when <paramref name="domid"/> may take <paramref name="chunks"/> more arena chunks:
    /// the arena has them, and an unprivileged domain stays within its memory quota.</summary>
    private bool MayCharge(uint domid, int chunks, bool quota, out StoreError error)
    {
        error = StoreError.None;
        if (chunks > _arena.FreeChunks)
        {
            error = StoreError.ENOMEM;
            return false;
        }

        int account = FindAccount(domid);
        int used = account < 0 ? 0 : _accounts[account].Chunks;
        if (quota && domid != _privileged && (long)(used + chunks) * ByteArena.ChunkBytes > _limits.MemoryQuota)
        {
            error = StoreError.ENOSPC;
            return false;
        }

        return true;
    }

    /// <summary>Stores bytes charged to an account the caller made sure exists and has room for them.</summary>
    private Blob StoreCharged(uint domid, ReadOnlySpan<byte> bytes)
    {
        _arena.TryStore(bytes, out Blob blob);
        _accounts[FindAccount(domid)].Chunks += Chunks(blob);
        return blob;
    }

    private void ReleaseCharged(uint domid, ref Blob blob)
    {
        int account = FindAccount(domid);
        if (account >= 0)
        {
            _accounts[account].Chunks -= Chunks(blob);
        }

        _arena.Release(ref blob);
    }

    /// <summary>Moves a blob's charge from one account to another (both exist), without a quota check: as
    /// when xenstored re-accounts a node whose owner changed.</summary>
    private void MoveCharge(uint from, uint to, Blob blob)
    {
        _accounts[FindAccount(from)].Chunks -= Chunks(blob);
        _accounts[FindAccount(to)].Chunks += Chunks(blob);
    }

    /// <summary>The access bits (Permissions.Read, Write, Owner) the caller has on a node with these
    /// permissions (core.c perm_for_conn): everything for the privileged domain and the owner; else the
    /// first other entry naming the caller that is not ignored; else the first entry's bits.</summary>
    private int AccessBits(uint domid, bool privileged, Blob perms)
    {
        if (privileged)
        {
            return Permissions.Read | Permissions.Write | Permissions.Owner;
        }

        int count = perms.Length / Permissions.EntryBytes;
        Span<byte> entry = stackalloc byte[Permissions.EntryBytes];
        for (int i = 0; i < count; i++)
        {
            for (int b = 0; b < Permissions.EntryBytes; b++)
            {
                entry[b] = _arena.ByteAt(perms, i * Permissions.EntryBytes + b);
            }

            uint id = Permissions.Domain(entry, 0);
            int bits = Permissions.Bits(entry, 0);
            if (i == 0 && id == domid)
            {
                return Permissions.Read | Permissions.Write | Permissions.Owner;
            }

            if (i > 0 && id == domid && (bits & Permissions.Ignore) == 0)
            {
                return bits & (Permissions.Read | Permissions.Write);
            }
        }

        Span<byte> first = stackalloc byte[Permissions.EntryBytes];
        for (int b = 0; b < Permissions.EntryBytes; b++)
        {
            first[b] = _arena.ByteAt(perms, b);
        }

        return Permissions.Bits(first, 0) & (Permissions.Read | Permissions.Write);
    }
}

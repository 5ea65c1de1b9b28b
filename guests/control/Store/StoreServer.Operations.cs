using System;
using Keel.Ringlib.Protocols;

namespace Keel.Guests.Control.Store;

// The tree operations of docs/misc/xenstore.txt. Each checks everything the caller sent and everything
// it needs (permissions, quotas, room in the pools) before it changes anything, so a request either
// happens whole or answers an error having changed nothing. Errors come in xenstored's order (core.c).
public sealed unsafe partial class StoreServer
{
    /// <summary>The canonical form of the caller's path, into _path.</summary>
    private bool Canonicalize(in Caller caller, ReadOnlySpan<byte> path, bool allowSpecial, out int length, out int prefix)
        => StorePath.Canonicalize(path, caller.Domid, caller.Privileged, _limits.RelativePathQuota, allowSpecial, _path, out length, out prefix);

    /// <summary>
    /// The error for a node the caller wanted that is absent (core.c errno_from_parents): ENOENT when the
    /// nearest existing ancestor grants one of the <paramref name="need"/>ed bits, else EACCES, so that a
    /// domain learns nothing of a tree it may not see. <paramref name="ancestorLength"/> is that ancestor's
    /// path length.
    /// </summary>
    private StoreError MissingError(in Caller caller, ReadOnlySpan<byte> path, int need, out NodeView ancestor, out int ancestorLength)
    {
        ancestorLength = path.Length;
        ancestor = default;
        do
        {
            ancestorLength = path[0] == (byte)'@' ? 0 : StorePath.ParentLength(path.Slice(0, ancestorLength));
            ReadOnlySpan<byte> parent = ancestorLength == 0 ? "/"u8 : path.Slice(0, ancestorLength);
            StoreError error = Look(caller, parent, out ancestor);
            if (error != StoreError.None)
            {
                return error;
            }
        }
        while (!ancestor.Exists && ancestorLength > 1);

        if (!ancestor.Exists)
        {
            return StoreError.EACCES;
        }

        return (AccessBits(caller.Domid, caller.Privileged, ViewPerms(ancestor)) & need) != 0 ? StoreError.ENOENT : StoreError.EACCES;
    }

    private Blob ViewPerms(in NodeView view) => view.Access >= 0 ? _accesses[view.Access].Perms : _nodes[view.Node].Perms;

    private Blob ViewValue(in NodeView view) => view.Access >= 0 ? _accesses[view.Access].Value : _nodes[view.Node].Value;

    /// <summary>Looks up the canonical path in _path and checks the caller has all <paramref name="need"/>ed bits.</summary>
    private StoreError LookChecked(in Caller caller, ReadOnlySpan<byte> path, int need, out NodeView view)
    {
        StoreError error = Look(caller, path, out view);
        if (error != StoreError.None)
        {
            return error;
        }

        if (!view.Exists)
        {
            return MissingError(caller, path, need, out _, out _);
        }

        return (AccessBits(caller.Domid, caller.Privileged, ViewPerms(view)) & need) == need ? StoreError.None : StoreError.EACCES;
    }

    /// <summary>READ &lt;path&gt;| answers the value, as stored.</summary>
    private StoreError DoRead(ref Caller caller, ReadOnlySpan<byte> payload)
    {
        if (!StorePath.OneArgument(payload, out ReadOnlySpan<byte> path))
        {
            return StoreError.EINVAL;
        }

        return ReadNode(ref caller, path);
    }

    private StoreError ReadNode(ref Caller caller, ReadOnlySpan<byte> argument)
    {
        if (!Canonicalize(caller, argument, false, out int length, out _))
        {
            return StoreError.EINVAL;
        }

        StoreError error = LookChecked(caller, new ReadOnlySpan<byte>(_path, 0, length), Permissions.Read, out NodeView view);
        if (error != StoreError.None)
        {
            return error;
        }

        Blob value = ViewValue(view);
        _arena.CopyTo(value, _reply);
        _replyLength = value.Length;
        return StoreError.None;
    }

    /// <summary>GET_PERMS &lt;path&gt;| answers the entries, special paths included.</summary>
    private StoreError DoGetPermissions(ref Caller caller, ReadOnlySpan<byte> payload)
    {
        if (!StorePath.OneArgument(payload, out ReadOnlySpan<byte> argument)
            || !Canonicalize(caller, argument, true, out int length, out _))
        {
            return StoreError.EINVAL;
        }

        StoreError error = LookChecked(caller, new ReadOnlySpan<byte>(_path, 0, length), Permissions.Read, out NodeView view);
        if (error != StoreError.None)
        {
            return error;
        }

        Blob perms = ViewPerms(view);
        _arena.CopyTo(perms, _permsA);
        _replyLength = Permissions.Format(new ReadOnlySpan<byte>(_permsA, 0, perms.Length), _reply);
        if (_replyLength < 0)
        {
            _replyLength = 0;
            return StoreError.E2BIG;
        }

        return StoreError.None;
    }

    /// <summary>DIRECTORY &lt;path&gt;| answers the children's names, each NUL-terminated, in byte order; E2BIG when
    /// they exceed one payload (DIRECTORY_PART reads those).</summary>
    private StoreError DoDirectory(ref Caller caller, ReadOnlySpan<byte> payload)
    {
        if (!StorePath.OneArgument(payload, out ReadOnlySpan<byte> argument)
            || !Canonicalize(caller, argument, false, out int length, out _))
        {
            return StoreError.EINVAL;
        }

        ReadOnlySpan<byte> path = new ReadOnlySpan<byte>(_path, 0, length);
        StoreError error = LookChecked(caller, path, Permissions.Read, out NodeView view);
        if (error != StoreError.None)
        {
            return error;
        }

        int listed = ListChildren(caller, path, view, _list, out bool complete);
        if (!complete || listed > _reply.Length)
        {
            return StoreError.E2BIG;
        }

        new ReadOnlySpan<byte>(_list, 0, listed).CopyTo(_reply);
        _replyLength = listed;
        return StoreError.None;
    }

    /// <summary>DIRECTORY_PART &lt;path&gt;|&lt;offset&gt;| answers &lt;generation&gt;| and the children from byte
    /// <offset> of the list on, as many whole names as fit, with an extra NUL once the list is done
    /// (core.c send_directory_part).</summary>
    private StoreError DoDirectoryPart(ref Caller caller, ReadOnlySpan<byte> payload)
    {
        if (StorePath.CountStrings(payload) != 2)
        {
            return StoreError.EINVAL;
        }

        ReadOnlySpan<byte> argument = StorePath.StringAt(payload, 0, out int next);
        ReadOnlySpan<byte> offsetText = StorePath.StringAt(payload, next, out _);
        if (!Canonicalize(caller, argument, false, out int length, out _))
        {
            return StoreError.EINVAL;
        }

        ReadOnlySpan<byte> path = new ReadOnlySpan<byte>(_path, 0, length);
        StoreError error = LookChecked(caller, path, Permissions.Read, out NodeView view);
        if (error != StoreError.None)
        {
            return error;
        }

        int listed = ListChildren(caller, path, view, _list, out bool complete);
        if (!complete)
        {
            return StoreError.E2BIG;
        }

        // atoi: the leading digits, 0 without any.
        ulong offset = 0;
        for (int i = 0; i < offsetText.Length && offsetText[i] >= (byte)'0' && offsetText[i] <= (byte)'9' && offset < int.MaxValue; i++)
        {
            offset = offset * 10 + (ulong)(offsetText[i] - (byte)'0');
        }

        ulong generation = view.Node >= 0 ? _nodes[view.Node].Generation : 0;
        int used = DecimalText.Write(generation, _reply);
        _reply[used++] = 0;
        if (offset >= (ulong)listed)
        {
            _reply[used++] = 0;
            _replyLength = used;
            return StoreError.None;
        }

        int start = (int)offset;
        int end = start;
        int room = _reply.Length - used - 1;
        while (end < listed)
        {
            int nameEnd = new ReadOnlySpan<byte>(_list, end, listed - end).IndexOf((byte)0) + end + 1;
            if (nameEnd - start > room)
            {
                break;
            }

            end = nameEnd;
        }

        new ReadOnlySpan<byte>(_list, start, end - start).CopyTo(new Span<byte>(_reply, used, end - start));
        used += end - start;
        if (end == listed)
        {
            _reply[used++] = 0;
        }

        _replyLength = used;
        return StoreError.None;
    }

    private readonly byte[] _list = new byte[ListBytes];
    private readonly int[] _names = new int[ListBytes / 2];
    private const int ListBytes = 65536;

    /// <summary>
    /// The names of a node's children as the caller sees them, each NUL-terminated, in byte order, into
    /// <paramref name="destination"/>. Outside a transaction: the tree's (sorted) list. Inside: the tree's
    /// children the transaction did not remove, and the ones it created. <paramref name="complete"/> is
    /// false when they did not fit.
    /// </summary>
    private int ListChildren(in Caller caller, ReadOnlySpan<byte> path, in NodeView view, byte[] destination, out bool complete)
    {
        complete = true;
        int used = 0;
        int count = 0;
        int node = view.Node;
        if (node >= 0)
        {
            for (int child = _nodes[node].FirstChild; child >= 0; child = _nodes[child].NextSibling)
            {
                Blob name = _nodes[child].Name;
                if (caller.Transaction >= 0 && !ExistsInTransaction(caller.Transaction, ChildPath(path, name), child))
                {
                    continue;
                }

                if (used + name.Length + 1 > destination.Length)
                {
                    complete = false;
                    return used;
                }

                _names[count++] = used;
                _arena.CopyTo(name, new Span<byte>(destination, used, name.Length));
                used += name.Length;
                destination[used++] = 0;
            }
        }

        if (caller.Transaction < 0)
        {
            return used;
        }

        for (int a = _transactions[caller.Transaction].FirstAccess; a >= 0; a = _accesses[a].Next)
        {
            if (!_accesses[a].Modified || !_accesses[a].Exists)
            {
                continue;
            }

            int length = AccessPath(a, _other);
            ReadOnlySpan<byte> candidate = new ReadOnlySpan<byte>(_other, 0, length);
            if (candidate[0] != (byte)'/' || length == 1 || StorePath.ParentLength(candidate) != (path.Length == 1 ? 1 : path.Length)
                || !candidate.StartsWith(path))
            {
                continue;
            }

            ReadOnlySpan<byte> name = candidate.Slice(path.Length == 1 ? 1 : path.Length + 1);
            if (node >= 0 && FindChild(node, name) >= 0)
            {
                continue;
            }

            if (used + name.Length + 1 > destination.Length || count == _names.Length)
            {
                complete = false;
                return used;
            }

            _names[count++] = used;
            name.CopyTo(new Span<byte>(destination, used, name.Length));
            used += name.Length;
            destination[used++] = 0;
        }

        SortNames(destination, used, count);
        return used;
    }

    /// <summary>path + "/" + name in _walk.</summary>
    private ReadOnlySpan<byte> ChildPath(ReadOnlySpan<byte> path, Blob name)
    {
        int length = path.Length;
        path.CopyTo(_walk);
        if (length > 1)
        {
            _walk[length++] = (byte)'/';
        }

        if (length + name.Length > _walk.Length)
        {
            return default;
        }

        _arena.CopyTo(name, new Span<byte>(_walk, length, name.Length));
        return new ReadOnlySpan<byte>(_walk, 0, length + name.Length);
    }

    /// <summary>Sorts the NUL-terminated names at _names[0..count) of <paramref name="list"/> into byte order,
    /// in place (through _token as scratch; names in one list total at most ListBytes).</summary>
    private void SortNames(byte[] list, int used, int count)
    {
        for (int i = 1; i < count; i++)
        {
            int item = _names[i];
            int j = i - 1;
            while (j >= 0 && CompareNames(list, _names[j], item) > 0)
            {
                _names[j + 1] = _names[j];
                j--;
            }

            _names[j + 1] = item;
        }

        byte[] scratch = _sorted;
        int at = 0;
        for (int i = 0; i < count; i++)
        {
            int start = _names[i];
            int end = start;
            while (list[end] != 0)
            {
                end++;
            }

            new ReadOnlySpan<byte>(list, start, end - start + 1).CopyTo(new Span<byte>(scratch, at, end - start + 1));
            at += end - start + 1;
        }

        new ReadOnlySpan<byte>(scratch, 0, used).CopyTo(list);
    }

    private readonly byte[] _sorted = new byte[ListBytes];

    private static int CompareNames(byte[] list, int a, int b)
    {
        while (list[a] != 0 && list[a] == list[b])
        {
            a++;
            b++;
        }

        return list[a] - list[b];
    }

    /// <summary>WRITE &lt;path&gt;|&lt;value|&gt; and MKDIR &lt;path&gt;|.</summary>
    private StoreError DoWrite(ref Caller caller, ReadOnlySpan<byte> payload, bool directory)
    {
        ReadOnlySpan<byte> path;
        ReadOnlySpan<byte> value = default;
        if (directory)
        {
            if (!StorePath.OneArgument(payload, out path))
            {
                return StoreError.EINVAL;
            }
        }
        else
        {
            // The value may hold NULs: the path is the first string, the value everything after it.
            if (StorePath.CountStrings(payload) < 1)
            {
                return StoreError.EINVAL;
            }

            path = StorePath.StringAt(payload, 0, out int next);
            value = payload.Slice(next);
        }

        StoreError error = WriteNode(ref caller, path, value, directory);
        if (error == StoreError.None)
        {
            ReplyOk();
        }

        return error;
    }

    /// <summary>
    /// Writes a value (or, for MKDIR, makes sure the node exists), creating missing parents as core.c
    /// construct_node does: each new node inherits its parent's permissions, with the owner replaced by the
    /// creating domain unless it is privileged. Fires the node's watches (a MKDIR of an existing node fires
    /// nothing).
    /// </summary>
    private StoreError WriteNode(ref Caller caller, ReadOnlySpan<byte> argument, ReadOnlySpan<byte> value, bool directory)
    {
        if (!Canonicalize(caller, argument, false, out int length, out _))
        {
            return StoreError.EINVAL;
        }

        ReadOnlySpan<byte> path = new ReadOnlySpan<byte>(_path, 0, length);
        StoreError error = Look(caller, path, out NodeView view);
        if (error != StoreError.None)
        {
            return error;
        }

        if (view.Exists)
        {
            if ((AccessBits(caller.Domid, caller.Privileged, ViewPerms(view)) & Permissions.Write) == 0)
            {
                return StoreError.EACCES;
            }

            return directory ? StoreError.None : Replace(ref caller, path, view, value);
        }

        error = MissingError(caller, path, Permissions.Write, out NodeView ancestor, out int ancestorLength);
        if (error != StoreError.ENOENT)
        {
            return error;
        }

        return Create(ref caller, path, ancestor, ancestorLength, value);
    }

    private bool ValueTooLarge(in Caller caller, ReadOnlySpan<byte> value) => !caller.Privileged && value.Length > _limits.ValueQuota;

    /// <summary>Replaces an existing node's value (WRITE).</summary>
    private StoreError Replace(ref Caller caller, ReadOnlySpan<byte> path, in NodeView view, ReadOnlySpan<byte> value)
    {
        if (ValueTooLarge(caller, value))
        {
            return StoreError.ENOSPC;
        }

        Blob perms = ViewPerms(view);
        if (caller.Transaction >= 0)
        {
            if (!MayCharge(caller.Domid, ByteArena.ChunksFor(value.Length) + Chunks(perms), true, out StoreError error))
            {
                return error;
            }

            _arena.CopyTo(perms, _permsB);
            int access = FindAccess(caller.Transaction, path, StorePath.Hash(path));
            SetAccess(caller.Transaction, access, true, value, new ReadOnlySpan<byte>(_permsB, 0, perms.Length), WatchMatch.Subtree);
            return StoreError.None;
        }

        uint owner = _nodes[view.Node].Owner;
        if (!MayCharge(owner, ByteArena.ChunksFor(value.Length), !caller.Privileged, out StoreError chargeError))
        {
            return chargeError;
        }

        ref NodeRecord node = ref _nodes[view.Node];
        ReleaseCharged(owner, ref node.Value);
        node.Value = StoreCharged(owner, value);
        node.Generation = ++_generation;
        FireWatches(path, WatchMatch.Subtree, view.Node, default, false);
        return StoreError.None;
    }

    /// <summary>Creates the node at <paramref name="path"/> and every missing node between it and its
    /// nearest existing ancestor (at <paramref name="ancestorLength"/>), the node with the value.</summary>
    private StoreError Create(ref Caller caller, ReadOnlySpan<byte> path, in NodeView ancestor, int ancestorLength, ReadOnlySpan<byte> value)
    {
        // The new nodes' permissions: the ancestor's, owned by the creator unless it is privileged.
        Blob inherited = ViewPerms(ancestor);
        _arena.CopyTo(inherited, _permsB);
        int permsLength = inherited.Length;
        if (!caller.Privileged)
        {
            Permissions.WriteEntry(_permsB, 0, caller.Domid, Permissions.Bits(_permsB, 0));
        }

        ReadOnlySpan<byte> perms = new ReadOnlySpan<byte>(_permsB, 0, permsLength);
        uint owner = Permissions.Domain(perms, 0);
        // Below the root the first new name starts after a slash of its own; below another node after the
        // slash that ends the ancestor's path.
        int levels = ancestorLength == 1 ? 1 : 0;
        for (int i = ancestorLength; i < path.Length; i++)
        {
            if (path[i] == (byte)'/')
            {
                levels++;
            }
        }

        int nameBytes = path.Length - ancestorLength - levels + (ancestorLength == 1 ? 1 : 0);

        if (ValueTooLarge(caller, value))
        {
            return StoreError.ENOSPC;
        }

        if (!caller.Privileged && OwnedInTransaction(caller) + levels > _limits.NodeQuota)
        {
            return StoreError.ENOSPC;
        }

        int account = EnsureAccount(owner);
        if (account < 0)
        {
            return StoreError.ENOMEM;
        }

        int chunks = levels * ByteArena.ChunksFor(permsLength) + ByteArena.ChunksFor(value.Length);
        if (caller.Transaction >= 0)
        {
            if (!MayCharge(caller.Domid, chunks, true, out StoreError error))
            {
                return error;
            }

            // Every missing level was looked at (and recorded) on the way up to the ancestor.
            for (int end = ancestorLength + 1; end <= path.Length; end++)
            {
                if (end == path.Length || path[end] == (byte)'/')
                {
                    ReadOnlySpan<byte> level = path.Slice(0, end);
                    int access = FindAccess(caller.Transaction, level, StorePath.Hash(level));
                    bool last = end == path.Length;
                    SetAccess(caller.Transaction, access, true, last ? value : default, perms, last ? WatchMatch.Subtree : WatchMatch.None);
                }
            }

            return StoreError.None;
        }

        // Names are charged like the rest: every level's name lives in the arena too.
        chunks += levels + nameBytes / ByteArena.ChunkBytes;
        if (levels > FreeNodes)
        {
            return StoreError.ENOMEM;
        }

        if (!MayCharge(owner, chunks, !caller.Privileged, out StoreError chargeError))
        {
            return chargeError;
        }

        int parent = FindNode(path.Slice(0, ancestorLength));
        int start = ancestorLength == 1 ? 1 : ancestorLength + 1;
        for (int end = start; end <= path.Length; end++)
        {
            if (end == path.Length || path[end] == (byte)'/')
            {
                parent = NewNode(parent, path.Slice(start, end - start), end == path.Length ? value : default, perms);
                start = end + 1;
            }
        }

        FireWatches(path, WatchMatch.Subtree, parent, default, false);
        return StoreError.None;
    }

    /// <summary>RM &lt;path&gt;|: removes the node and everything below it; fine when it is absent but its parent
    /// exists; the root cannot go.</summary>
    private StoreError DoRemove(ref Caller caller, ReadOnlySpan<byte> payload)
    {
        if (!StorePath.OneArgument(payload, out ReadOnlySpan<byte> argument))
        {
            return StoreError.EINVAL;
        }

        StoreError error = RemoveNode(ref caller, argument);
        if (error == StoreError.None)
        {
            ReplyOk();
        }

        return error;
    }

    private StoreError RemoveNode(ref Caller caller, ReadOnlySpan<byte> argument)
    {
        if (!Canonicalize(caller, argument, false, out int length, out _))
        {
            return StoreError.EINVAL;
        }

        ReadOnlySpan<byte> path = new ReadOnlySpan<byte>(_path, 0, length);
        StoreError error = Look(caller, path, out NodeView view);
        if (error != StoreError.None)
        {
            return error;
        }

        if (!view.Exists)
        {
            error = MissingError(caller, path, Permissions.Write, out _, out int ancestorLength);
            if (error != StoreError.ENOENT)
            {
                return error;
            }

            return ancestorLength == StorePath.ParentLength(path) ? StoreError.None : StoreError.ENOENT;
        }

        if ((AccessBits(caller.Domid, caller.Privileged, ViewPerms(view)) & Permissions.Write) == 0)
        {
            return StoreError.EACCES;
        }

        if (length == 1)
        {
            return StoreError.EINVAL;
        }

        if (caller.Transaction >= 0)
        {
            return RemoveInTransaction(ref caller, path, view);
        }

        RemoveTree(view.Node, true, path);
        return StoreError.None;
    }

    /// <summary>
    /// Removes a node of the tree and its subtree, deepest first, firing as core.c delnode_sub does while
    /// each can still be seen: the removed node's own path matches watches on it and its ancestors, each
    /// descendant's only watches on exactly that descendant. Then frees the records.
    /// </summary>
    private void RemoveTree(int top, bool fireTop, ReadOnlySpan<byte> topPath)
    {
        while (true)
        {
            int node = top;
            while (_nodes[node].FirstChild >= 0)
            {
                node = _nodes[node].FirstChild;
            }

            if (node == top)
            {
                break;
            }

            int length = BuildPath(node, _walk);
            FireWatches(new ReadOnlySpan<byte>(_walk, 0, length), WatchMatch.Exact, node, default, false);
            FreeNode(node);
        }

        if (fireTop)
        {
            FireWatches(topPath, WatchMatch.Subtree, top, default, false);
        }
        else
        {
            int length = BuildPath(top, _walk);
            FireWatches(new ReadOnlySpan<byte>(_walk, 0, length), WatchMatch.Exact, top, default, false);
        }

        FreeNode(top);
    }

    /// <summary>RM inside a transaction: every node at or below the path that the transaction sees (the
    /// tree's, and the ones it created) is recorded as removed.</summary>
    private StoreError RemoveInTransaction(ref Caller caller, ReadOnlySpan<byte> path, in NodeView view)
    {
        int transaction = caller.Transaction;
        // First count what must be recorded, so that the removal happens whole or not at all.
        int records = 0;
        int pathChunks = 0;
        if (view.Node >= 0)
        {
            for (int node = NextInSubtree(view.Node, view.Node); node >= 0; node = NextInSubtree(node, view.Node))
            {
                int length = BuildPath(node, _walk);
                ReadOnlySpan<byte> descendant = new ReadOnlySpan<byte>(_walk, 0, length);
                if (FindAccess(transaction, descendant, StorePath.Hash(descendant)) < 0)
                {
                    records++;
                    pathChunks += ByteArena.ChunksFor(length);
                }
            }
        }

        StoreError error = MayRecord(caller, records, pathChunks);
        if (error != StoreError.None)
        {
            return error;
        }

        if (view.Node >= 0)
        {
            for (int node = NextInSubtree(view.Node, view.Node); node >= 0; node = NextInSubtree(node, view.Node))
            {
                int length = BuildPath(node, _walk);
                ReadOnlySpan<byte> descendant = new ReadOnlySpan<byte>(_walk, 0, length);
                Look(caller, descendant, out NodeView seen);
                if (seen.Exists)
                {
                    SetAccess(transaction, FindAccess(transaction, descendant, StorePath.Hash(descendant)), false, default, default, WatchMatch.Exact);
                }
            }
        }

        for (int a = _transactions[transaction].FirstAccess; a >= 0; a = _accesses[a].Next)
        {
            if (!_accesses[a].Modified || !_accesses[a].Exists)
            {
                continue;
            }

            int length = AccessPath(a, _other);
            ReadOnlySpan<byte> candidate = new ReadOnlySpan<byte>(_other, 0, length);
            if (length > path.Length && StorePath.IsWithin(candidate, path))
            {
                SetAccess(transaction, a, false, default, default, WatchMatch.Exact);
            }
        }

        SetAccess(transaction, view.Access >= 0 ? view.Access : FindAccess(transaction, path, StorePath.Hash(path)), false, default, default, WatchMatch.Subtree);
        return StoreError.None;
    }

    /// <summary>SET_PERMS &lt;path&gt;|&lt;perm&gt;|+.</summary>
    private StoreError DoSetPermissions(ref Caller caller, ReadOnlySpan<byte> payload)
    {
        int strings = StorePath.CountStrings(payload);
        if (strings < 2)
        {
            return StoreError.EINVAL;
        }

        ReadOnlySpan<byte> argument = StorePath.StringAt(payload, 0, out int next);
        StoreError error = SetNodePermissions(ref caller, argument, payload.Slice(next), strings - 1);
        if (error == StoreError.None)
        {
            ReplyOk();
        }

        return error;
    }

    /// <summary>
    /// Replaces a node's permissions (core.c do_set_perms): at most the permission quota's entries for an
    /// unprivileged caller; entries for domains that do not exist are kept but ignored, and an owner that
    /// does not exist is ENOENT; the caller needs write and ownership; only the privileged domain may give
    /// a node to another owner (EPERM). Fires the node's watches, also for domains that could read it only
    /// before.
    /// </summary>
    private StoreError SetNodePermissions(ref Caller caller, ReadOnlySpan<byte> argument, ReadOnlySpan<byte> strings, int count)
    {
        if (count < 1)
        {
            return StoreError.EINVAL;
        }

        if (!caller.Privileged && count > _limits.PermissionQuota)
        {
            return StoreError.ENOSPC;
        }

        if (count * Permissions.EntryBytes > _permsA.Length || !Permissions.TryParse(strings, count, _permsA))
        {
            return StoreError.EINVAL;
        }

        for (int i = 0; i < count; i++)
        {
            uint domid = Permissions.Domain(_permsA, i);
            if (domid != _privileged && !_domains.Exists(domid))
            {
                Permissions.WriteEntry(_permsA, i, domid, Permissions.Bits(_permsA, i) | Permissions.Ignore);
            }
        }

        if ((Permissions.Bits(_permsA, 0) & Permissions.Ignore) != 0)
        {
            return StoreError.ENOENT;
        }

        if (!Canonicalize(caller, argument, true, out int length, out _))
        {
            return StoreError.EINVAL;
        }

        ReadOnlySpan<byte> path = new ReadOnlySpan<byte>(_path, 0, length);
        StoreError error = LookChecked(caller, path, Permissions.Write | Permissions.Owner, out NodeView view);
        if (error != StoreError.None)
        {
            return error;
        }

        ReadOnlySpan<byte> perms = new ReadOnlySpan<byte>(_permsA, 0, count * Permissions.EntryBytes);
        uint owner = Permissions.Domain(perms, 0);
        Blob oldPerms = ViewPerms(view);
        uint oldOwner = view.Access >= 0 ? _accesses[view.Access].Owner : _nodes[view.Node].Owner;
        if (!caller.Privileged && owner != oldOwner)
        {
            return StoreError.EPERM;
        }

        if (EnsureAccount(owner) < 0)
        {
            return StoreError.ENOMEM;
        }

        if (caller.Transaction >= 0)
        {
            Blob value = ViewValue(view);
            if (!MayCharge(caller.Domid, ByteArena.ChunksFor(perms.Length) + Chunks(value), true, out error))
            {
                return error;
            }

            _arena.CopyTo(value, _token);
            int access = FindAccess(caller.Transaction, path, StorePath.Hash(path));
            SetAccess(caller.Transaction, access, true, new ReadOnlySpan<byte>(_token, 0, value.Length), perms, WatchMatch.Subtree);
            return StoreError.None;
        }

        if (!MayCharge(owner, ByteArena.ChunksFor(perms.Length), false, out error))
        {
            return error;
        }

        // The node moves to the new owner's accounts, without a quota check (core.c domain_nbentry_inc).
        ref NodeRecord node = ref _nodes[view.Node];
        int previous = FindAccount(oldOwner);
        _accounts[previous].Nodes--;
        _accounts[previous].Chunks -= Chunks(node.Name) + Chunks(node.Value) + Chunks(node.Perms);
        node.Perms = default;
        _arena.TryStore(perms, out node.Perms);
        node.Owner = owner;
        node.Generation = ++_generation;
        int next = FindAccount(owner);
        _accounts[next].Nodes++;
        _accounts[next].Chunks += Chunks(node.Name) + Chunks(node.Value) + Chunks(node.Perms);
        FireWatches(path, WatchMatch.Subtree, view.Node, oldPerms, true);
        _arena.Release(ref oldPerms);
        return StoreError.None;
    }
}

using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Keel.Ringlib.Protocols;

namespace Keel.Control.Tests.Support;

/// <summary>
/// The store's rules written the plain way (dictionaries keyed by path, strings, LINQ), for the model test:
/// the same requests must get the same replies and events from it as from StoreServer. Domains 0 to 3
/// exist, 0 is privileged; quotas are small so that they are reached.
/// </summary>
public sealed class ReferenceStore
{
    public const int NodeQuota = 15;
    public const int WatchQuota = 4;
    public const int TransactionQuota = 2;
    public const int PermissionQuota = 5;

    public sealed record Perm(char Letter, uint Id, bool Ignore);

    public sealed class Node
    {
        public byte[] Value = Array.Empty<byte>();
        public List<Perm> Perms = new();
        public ulong Generation;
        public uint Owner => Perms[0].Id;
    }

    private sealed class Overlay
    {
        public bool Exists;
        public byte[] Value;
        public List<Perm> Perms;
        public int Fire; // 0 none, 1 exact, 2 subtree
    }

    private sealed class Transaction
    {
        public uint Id;
        public readonly Dictionary<string, (ulong Generation, bool OwnedBefore)> Looked = new();
        public readonly Dictionary<string, Overlay> Changed = new();
        public readonly List<string> Order = new();
    }

    private sealed record Watch(string Path, string Token, int Prefix);

    public readonly SortedDictionary<string, Node> Tree = new(StringComparer.Ordinal);
    private readonly Dictionary<uint, List<Watch>> _watches = new();
    private readonly Dictionary<uint, List<Transaction>> _transactions = new();
    private readonly Dictionary<uint, uint> _nextId = new();
    private ulong _generation;

    /// <summary>Events of the last request, per domain, as "path|token".</summary>
    public readonly Dictionary<uint, HashSet<string>> Events = new();

    public ReferenceStore()
    {
        foreach (string path in new[] { "/", "@introduceDomain", "@releaseDomain", "/tool", "/tool/xenstored", "/local", "/local/domain" })
        {
            Tree[path] = new Node { Perms = new List<Perm> { new('n', 0, false) }, Generation = ++_generation };
        }

        for (uint d = 0; d < 4; d++)
        {
            _watches[d] = new List<Watch>();
            _transactions[d] = new List<Transaction>();
            _nextId[d] = 1;
        }
    }

    public static bool Exists(uint domid) => domid <= 3;

    public IReadOnlyList<uint> OpenTransactions(uint domid) => _transactions[domid].Select(t => t.Id).ToList();

    /// <summary>The reply to one request: the type (Error for an error) and the payload.</summary>
    public (StoreMessageType Type, byte[] Payload) Handle(uint domid, StoreMessageType type, uint txId, byte[] payload)
    {
        Events.Clear();
        Transaction tx = null;
        if (txId != 0 && type != StoreMessageType.Watch && type != StoreMessageType.Unwatch)
        {
            tx = _transactions[domid].FirstOrDefault(t => t.Id == txId);
            if (tx == null) return Fail(StoreError.ENOENT);
        }

        var request = new Request(this, domid, tx);
        StoreError error = type switch
        {
            StoreMessageType.Read => request.Read(payload),
            StoreMessageType.Directory => request.Directory(payload),
            StoreMessageType.GetPermissions => request.GetPerms(payload),
            StoreMessageType.Write => request.Write(payload, false),
            StoreMessageType.Mkdir => request.Write(payload, true),
            StoreMessageType.Remove => request.Remove(payload),
            StoreMessageType.SetPermissions => request.SetPerms(payload),
            StoreMessageType.Watch => request.Watch(payload),
            StoreMessageType.Unwatch => request.Unwatch(payload),
            StoreMessageType.TransactionStart => request.Start(),
            StoreMessageType.TransactionEnd => request.End(payload),
            _ => StoreError.ENOSYS,
        };
        return error == StoreError.None ? (type, request.Reply) : Fail(error);
    }

    private static (StoreMessageType, byte[]) Fail(StoreError error)
        => (StoreMessageType.Error, Encoding.ASCII.GetBytes(error + "\0"));

    private static string Parent(string path)
    {
        if (path[0] == '@') return "/";
        int slash = path.LastIndexOf('/');
        return slash <= 0 ? "/" : path.Substring(0, slash);
    }

    private static bool Within(string child, string parent)
        => parent == "/" ? child.StartsWith('/') : child == parent || child.StartsWith(parent + "/", StringComparison.Ordinal);

    private static int Bits(uint domid, List<Perm> perms)
    {
        if (domid == 0 || perms[0].Id == domid) return 1 | 2 | 8;
        foreach (Perm p in perms.Skip(1))
        {
            if (p.Id == domid && !p.Ignore) return LetterBits(p.Letter);
        }

        return LetterBits(perms[0].Letter);
    }

    private static int LetterBits(char letter) => letter switch { 'r' => 1, 'w' => 2, 'b' => 3, _ => 0 };

    private static List<Perm> WithOwner(List<Perm> perms, uint owner)
    {
        var copy = new List<Perm>(perms);
        copy[0] = copy[0] with { Id = owner };
        return copy;
    }

    private int Owned(uint domid) => Tree.Values.Count(n => n.Owner == domid);

    private void Event(uint domid, string path, string token)
    {
        if (!Events.TryGetValue(domid, out HashSet<string> set)) Events[domid] = set = new HashSet<string>();
        set.Add(path + "|" + token);
    }

    /// <summary>watch.c: the event goes to every matching watch whose domain may read the old permissions,
    /// the node now, or its parent now.</summary>
    private void Fire(string path, bool exact, List<Perm> oldPerms)
    {
        Tree.TryGetValue(path, out Node now);
        if (now == null && oldPerms == null) return;
        foreach ((uint domid, List<Watch> watches) in _watches)
        {
            bool permitted = (oldPerms != null && (Bits(domid, oldPerms) & 1) != 0)
                             || (now != null && ((Bits(domid, now.Perms) & 1) != 0 || (Bits(domid, Tree[Parent(path)].Perms) & 1) != 0));
            if (!permitted) continue;
            foreach (Watch w in watches)
            {
                if (exact ? w.Path == path : Within(path, w.Path)) Event(domid, path.Substring(w.Prefix), w.Token);
            }
        }
    }

    private void Touch(string path) => Tree[path].Generation = ++_generation;

    private void Create(string path, byte[] value, List<Perm> perms)
    {
        Tree[path] = new Node { Value = value, Perms = perms, Generation = ++_generation };
        Touch(Parent(path));
    }

    private void Delete(string path)
    {
        Tree.Remove(path);
        if (Tree.ContainsKey(Parent(path))) Touch(Parent(path));
    }

    /// <summary>One request's handling, as the store's operations do it.</summary>
    private sealed class Request
    {
        private readonly ReferenceStore _s;
        private readonly uint _domid;
        private readonly bool _privileged;
        private readonly Transaction _tx;
        public byte[] Reply = Array.Empty<byte>();

        public Request(ReferenceStore store, uint domid, Transaction tx)
        {
            _s = store;
            _domid = domid;
            _privileged = domid == 0;
            _tx = tx;
        }

        private void Ok() => Reply = Encoding.ASCII.GetBytes("OK\0");

        private static List<string> Strings(byte[] payload, out int count)
        {
            count = payload.Count(b => b == 0);
            var list = new List<string>();
            int start = 0;
            for (int i = 0; i < payload.Length; i++)
            {
                if (payload[i] != 0) continue;
                list.Add(Encoding.ASCII.GetString(payload, start, i - start));
                start = i + 1;
            }

            return list;
        }

        private static bool OneArg(byte[] payload, out string arg)
        {
            arg = null;
            if (payload.Length == 0 || Array.IndexOf(payload, (byte)0) != payload.Length - 1) return false;
            arg = Encoding.ASCII.GetString(payload, 0, payload.Length - 1);
            return true;
        }

        private string Canonical(string path, bool special, out int prefix)
        {
            prefix = 0;
            if (path.Length == 0 || path.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '/' or '_' or '@'))) return null;
            if (path[0] == '@' && !special) return null;
            if (path[0] != '/' && path[0] != '@')
            {
                string home = "/local/domain/" + _domid + "/";
                prefix = home.Length;
                path = home + path;
            }

            if (path.Length > 3072 || (path.EndsWith('/') && path != "/") || path.Contains("//")) return null;
            return path;
        }

        private (bool Exists, Node Node, Overlay Overlay) Look(string path)
        {
            _s.Tree.TryGetValue(path, out Node node);
            if (_tx == null) return (node != null, node, null);
            if (!_tx.Looked.ContainsKey(path))
            {
                _tx.Looked[path] = (node?.Generation ?? 0, node != null && node.Owner == _domid);
                _tx.Order.Add(path);
            }

            if (_tx.Changed.TryGetValue(path, out Overlay overlay)) return (overlay.Exists, node, overlay);
            return (node != null, node, null);
        }

        private static List<Perm> PermsOf((bool Exists, Node Node, Overlay Overlay) view) => view.Overlay?.Perms ?? view.Node.Perms;

        private static byte[] ValueOf((bool Exists, Node Node, Overlay Overlay) view) => view.Overlay?.Value ?? view.Node.Value;

        private bool ViewExists(string path)
        {
            if (_tx != null && _tx.Changed.TryGetValue(path, out Overlay overlay)) return overlay.Exists;
            return _s.Tree.ContainsKey(path);
        }

        private StoreError Missing(string path, int need, out string ancestor, out (bool Exists, Node Node, Overlay Overlay) view)
        {
            ancestor = path;
            do
            {
                ancestor = Parent(ancestor);
                view = Look(ancestor);
            }
            while (!view.Exists && ancestor != "/");

            if (!view.Exists) return StoreError.EACCES;
            return (Bits(_domid, PermsOf(view)) & need) != 0 ? StoreError.ENOENT : StoreError.EACCES;
        }

        private StoreError LookChecked(string path, int need, out (bool Exists, Node Node, Overlay Overlay) view)
        {
            view = Look(path);
            if (!view.Exists) return Missing(path, need, out _, out _);
            return (Bits(_domid, PermsOf(view)) & need) == need ? StoreError.None : StoreError.EACCES;
        }

        public StoreError Read(byte[] payload)
        {
            if (!OneArg(payload, out string arg)) return StoreError.EINVAL;
            string path = Canonical(arg, false, out _);
            if (path == null) return StoreError.EINVAL;
            StoreError error = LookChecked(path, 1, out var view);
            if (error != StoreError.None) return error;
            Reply = ValueOf(view);
            return StoreError.None;
        }

        public StoreError Directory(byte[] payload)
        {
            if (!OneArg(payload, out string arg)) return StoreError.EINVAL;
            string path = Canonical(arg, false, out _);
            if (path == null) return StoreError.EINVAL;
            StoreError error = LookChecked(path, 1, out _);
            if (error != StoreError.None) return error;
            string prefix = path == "/" ? "/" : path + "/";
            var candidates = new HashSet<string>(_s.Tree.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)));
            if (_tx != null) candidates.UnionWith(_tx.Changed.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)));
            var names = candidates.Where(k => k.Length > prefix.Length && k.IndexOf('/', prefix.Length) < 0 && ViewExists(k))
                .Select(k => k.Substring(prefix.Length)).OrderBy(n => n, StringComparer.Ordinal);
            Reply = Encoding.ASCII.GetBytes(string.Concat(names.Select(n => n + "\0")));
            return StoreError.None;
        }

        public StoreError GetPerms(byte[] payload)
        {
            if (!OneArg(payload, out string arg)) return StoreError.EINVAL;
            string path = Canonical(arg, true, out _);
            if (path == null) return StoreError.EINVAL;
            StoreError error = LookChecked(path, 1, out var view);
            if (error != StoreError.None) return error;
            Reply = Encoding.ASCII.GetBytes(string.Concat(PermsOf(view).Select(p => p.Letter + p.Id.ToString() + "\0")));
            return StoreError.None;
        }

        private int OwnedInTransaction()
        {
            int owned = _s.Owned(_domid);
            if (_tx == null) return owned;
            foreach ((string path, Overlay overlay) in _tx.Changed)
            {
                owned += (overlay.Exists && overlay.Perms[0].Id == _domid ? 1 : 0) - (_tx.Looked[path].OwnedBefore ? 1 : 0);
            }

            return owned;
        }

        private void SetOverlay(string path, bool exists, byte[] value, List<Perm> perms, int fire)
        {
            if (!_tx.Changed.TryGetValue(path, out Overlay overlay)) _tx.Changed[path] = overlay = new Overlay();
            overlay.Exists = exists;
            overlay.Value = exists ? value : null;
            overlay.Perms = exists ? perms : null;
            overlay.Fire = Math.Max(overlay.Fire, fire);
        }

        public StoreError Write(byte[] payload, bool directory)
        {
            string arg;
            byte[] value = Array.Empty<byte>();
            if (directory)
            {
                if (!OneArg(payload, out arg)) return StoreError.EINVAL;
            }
            else
            {
                int nul = Array.IndexOf(payload, (byte)0);
                if (nul < 0) return StoreError.EINVAL;
                arg = Encoding.ASCII.GetString(payload, 0, nul);
                value = payload.Skip(nul + 1).ToArray();
            }

            string path = Canonical(arg, false, out _);
            if (path == null) return StoreError.EINVAL;
            var view = Look(path);
            if (view.Exists)
            {
                if ((Bits(_domid, PermsOf(view)) & 2) == 0) return StoreError.EACCES;
                if (!directory)
                {
                    if (_tx != null) SetOverlay(path, true, value, PermsOf(view), 2);
                    else
                    {
                        view.Node.Value = value;
                        _s.Touch(path);
                        _s.Fire(path, false, null);
                    }
                }

                Ok();
                return StoreError.None;
            }

            StoreError error = Missing(path, 2, out string ancestor, out var ancestorView);
            if (error != StoreError.ENOENT) return error;
            List<Perm> perms = _privileged ? PermsOf(ancestorView) : WithOwner(PermsOf(ancestorView), _domid);
            var levels = new List<string>();
            for (string level = path; level != ancestor; level = Parent(level)) levels.Insert(0, level);
            if (!_privileged && OwnedInTransaction() + levels.Count > NodeQuota) return StoreError.ENOSPC;
            foreach (string level in levels)
            {
                bool last = level == path;
                if (_tx != null) SetOverlay(level, true, last ? value : Array.Empty<byte>(), perms, last ? 2 : 0);
                else _s.Create(level, last ? value : Array.Empty<byte>(), new List<Perm>(perms));
            }

            if (_tx == null) _s.Fire(path, false, null);
            Ok();
            return StoreError.None;
        }

        public StoreError Remove(byte[] payload)
        {
            if (!OneArg(payload, out string arg)) return StoreError.EINVAL;
            string path = Canonical(arg, false, out _);
            if (path == null) return StoreError.EINVAL;
            var view = Look(path);
            if (!view.Exists)
            {
                StoreError error = Missing(path, 2, out string ancestor, out _);
                if (error != StoreError.ENOENT) return error;
                if (ancestor != Parent(path)) return StoreError.ENOENT;
                Ok();
                return StoreError.None;
            }

            if ((Bits(_domid, PermsOf(view)) & 2) == 0) return StoreError.EACCES;
            if (path == "/") return StoreError.EINVAL;
            if (_tx != null)
            {
                var globalBelow = view.Node == null ? new List<string>()
                    : _s.Tree.Keys.Where(k => k != path && Within(k, path) && k[0] == '/').ToList();
                foreach (string q in globalBelow) Look(q);
                var below = new HashSet<string>(globalBelow);
                below.UnionWith(_tx.Changed.Keys.Where(k => k != path && Within(k, path)));
                foreach (string q in below.Where(ViewExists).ToList()) SetOverlay(q, false, null, null, 1);
                SetOverlay(path, false, null, null, 2);
            }
            else
            {
                foreach (string q in _s.Tree.Keys.Where(k => k != path && Within(k, path) && k[0] == '/').ToList()) _s.Fire(q, true, null);
                _s.Fire(path, false, null);
                foreach (string q in _s.Tree.Keys.Where(k => Within(k, path) && k[0] == '/').OrderByDescending(k => k.Length).ToList()) _s.Delete(q);
            }

            Ok();
            return StoreError.None;
        }

        public StoreError SetPerms(byte[] payload)
        {
            List<string> strings = Strings(payload, out int count);
            if (count < 2) return StoreError.EINVAL;
            if (!_privileged && count - 1 > PermissionQuota) return StoreError.ENOSPC;
            var perms = new List<Perm>();
            foreach (string entry in strings.Skip(1))
            {
                if (entry.Length < 2 || "nrwb".IndexOf(entry[0]) < 0 || !entry.Skip(1).All(char.IsAsciiDigit) || entry.Length > 21
                    || !ulong.TryParse(entry.AsSpan(1), out ulong id) || id > 65535)
                {
                    return StoreError.EINVAL;
                }

                perms.Add(new Perm(entry[0], (uint)id, !Exists((uint)id)));
            }

            if (perms[0].Ignore) return StoreError.ENOENT;
            string path = Canonical(strings[0], true, out _);
            if (path == null) return StoreError.EINVAL;
            StoreError error = LookChecked(path, 2 | 8, out var view);
            if (error != StoreError.None) return error;
            List<Perm> old = PermsOf(view);
            if (!_privileged && perms[0].Id != old[0].Id) return StoreError.EPERM;
            if (_tx != null) SetOverlay(path, true, ValueOf(view), perms, 2);
            else
            {
                view.Node.Perms = perms;
                _s.Touch(path);
                _s.Fire(path, false, old);
            }

            Ok();
            return StoreError.None;
        }

        public StoreError Watch(byte[] payload)
        {
            List<string> strings = Strings(payload, out int count);
            if (count != 2) return StoreError.EINVAL;
            string path = Canonical(strings[0], true, out int prefix);
            if (path == null) return StoreError.EINVAL;
            List<Watch> watches = _s._watches[_domid];
            if (watches.Any(w => w.Path == path && w.Token == strings[1])) return StoreError.EEXIST;
            if (!_privileged && watches.Count >= WatchQuota) return StoreError.ENOSPC;
            watches.Add(new Watch(path, strings[1], prefix));
            _s.Event(_domid, path.Substring(prefix), strings[1]);
            Ok();
            return StoreError.None;
        }

        public StoreError Unwatch(byte[] payload)
        {
            List<string> strings = Strings(payload, out int count);
            if (count != 2) return StoreError.EINVAL;
            string path = Canonical(strings[0], true, out _);
            if (path == null) return StoreError.EINVAL;
            int index = _s._watches[_domid].FindIndex(w => w.Path == path && w.Token == strings[1]);
            if (index < 0) return StoreError.ENOENT;
            _s._watches[_domid].RemoveAt(index);
            Ok();
            return StoreError.None;
        }

        public StoreError Start()
        {
            if (_tx != null) return StoreError.EBUSY;
            List<Transaction> open = _s._transactions[_domid];
            if (!_privileged && open.Count >= TransactionQuota) return StoreError.ENOSPC;
            uint id;
            do id = _s._nextId[_domid]++;
            while (id == 0 || open.Any(t => t.Id == id));
            open.Add(new Transaction { Id = id });
            Reply = Encoding.ASCII.GetBytes(id + "\0");
            return StoreError.None;
        }

        public StoreError End(byte[] payload)
        {
            if (!OneArg(payload, out string arg) || (arg != "T" && arg != "F")) return StoreError.EINVAL;
            if (_tx == null) return StoreError.ENOENT;
            _s._transactions[_domid].Remove(_tx);
            if (arg == "T")
            {
                StoreError error = Commit();
                if (error != StoreError.None) return error;
            }

            Ok();
            return StoreError.None;
        }

        private StoreError Commit()
        {
            if (!_privileged && OwnedInTransaction() > NodeQuota) return StoreError.ENOSPC;
            foreach ((string path, (ulong generation, _)) in _tx.Looked)
            {
                ulong now = _s.Tree.TryGetValue(path, out Node node) ? node.Generation : 0;
                if (now != generation) return StoreError.EAGAIN;
            }

            foreach ((string path, Overlay overlay) in _tx.Changed.Where(c => c.Value.Exists).OrderBy(c => c.Key.Length))
            {
                List<Perm> old = null;
                if (_s.Tree.TryGetValue(path, out Node node))
                {
                    old = node.Perms;
                    node.Value = overlay.Value;
                    node.Perms = overlay.Perms;
                    _s.Touch(path);
                }
                else
                {
                    _s.Create(path, overlay.Value, overlay.Perms);
                }

                if (overlay.Fire != 0) _s.Fire(path, overlay.Fire == 1, old);
            }

            foreach ((string path, Overlay overlay) in _tx.Changed.Where(c => !c.Value.Exists).OrderByDescending(c => c.Key.Length))
            {
                if (!_s.Tree.TryGetValue(path, out Node node)) continue;
                _s.Delete(path);
                if (overlay.Fire != 0) _s.Fire(path, overlay.Fire == 1, node.Perms);
            }

            return StoreError.None;
        }
    }
}

using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Keel.Control.Tests.Support;
using Keel.Guests.Control.Store;
using Keel.Ringlib.Protocols;

namespace Keel.Control.Tests;

/// <summary>One generated request: who sends it, what, on which path, in which transaction.</summary>
public sealed record ModelOp(uint Domain, StoreMessageType Type, string Path, string Value, string[] Perms, int Transaction)
{
    public override string ToString()
        => $"d{Domain} {Type} {Path} {(Value.Length > 0 ? "'" + Value + "' " : "")}{(Perms.Length > 0 ? "[" + string.Join(" ", Perms) + "] " : "")}tx#{Transaction}";
}

public static class ModelGenerators
{
    private static readonly string[] Bases = { "/t", "/local/domain/1", "/local/domain/2", "/local/domain/3", "", "/" };
    private static readonly string[] Names = { "a", "b", "h" };

    private static Gen<string> Path() =>
        from b in Gen.Frequency((6, Gen.Elements(Bases)), (1, Gen.Elements("@releaseDomain", "@introduceDomain", "/t/", "t//a", "/t/a b")))
        from depth in Gen.Frequency((3, Gen.Choose(0, 1)), (2, Gen.Choose(2, 3)))
        from names in Gen.Elements(Names).ArrayOf(depth)
        select b.StartsWith('@') || b.EndsWith('/') && b.Length > 1 || b.Contains(' ') || b.Contains("//") ? b
            : b.Length == 0 ? (depth == 0 ? "a" : string.Join("/", names))
            : b == "/" ? "/" + string.Join("/", names)
            : names.Length == 0 ? b : b + "/" + string.Join("/", names);

    private static Gen<string[]> Perms() =>
        from count in Gen.Frequency((8, Gen.Choose(1, 3)), (1, Gen.Choose(6, 7)))
        from entries in (from letter in Gen.Elements('n', 'r', 'w', 'b')
                         from id in Gen.Frequency((8, Gen.Choose(0, 3)), (1, Gen.Constant(9)))
                         select letter.ToString() + id).ArrayOf(count)
        select entries;

    private static readonly StoreMessageType[] Types =
    {
        StoreMessageType.Read, StoreMessageType.Write, StoreMessageType.Write, StoreMessageType.Write, StoreMessageType.Mkdir,
        StoreMessageType.Remove, StoreMessageType.Directory, StoreMessageType.GetPermissions, StoreMessageType.SetPermissions,
        StoreMessageType.SetPermissions, StoreMessageType.Watch, StoreMessageType.Watch, StoreMessageType.Unwatch,
        StoreMessageType.TransactionStart, StoreMessageType.TransactionEnd, StoreMessageType.TransactionEnd,
    };

    public static Arbitrary<ModelOp[]> Ops()
    {
        Gen<ModelOp> op =
            from domain in Gen.Choose(0, 3)
            from type in Gen.Elements(Types)
            from path in Path()
            from value in Gen.Elements("", "1", "two", "x\0y")
            from perms in Perms()
            from transaction in Gen.Frequency((4, Gen.Constant(0)), (3, Gen.Constant(1)), (2, Gen.Constant(2)), (1, Gen.Constant(3)))
            select new ModelOp((uint)domain, type, path, value, perms, transaction);
        return op.ArrayOf().Select(ops => ops.Take(80).ToArray()).ToArbitrary();
    }
}

/// <summary>The store against ReferenceStore under random requests from four domains.</summary>
public sealed class ModelTests
{
    private static StoreLimits Limits()
    {
        StoreLimits limits = StoreLimits.Default;
        limits.NodeQuota = ReferenceStore.NodeQuota;
        limits.WatchQuota = ReferenceStore.WatchQuota;
        limits.TransactionQuota = ReferenceStore.TransactionQuota;
        limits.PermissionQuota = ReferenceStore.PermissionQuota;
        limits.Nodes = 512;
        limits.ArenaBytes = 256 * 1024;
        return limits;
    }

    private static byte[] PayloadOf(ModelOp op, StoreMessageType type)
    {
        switch (type)
        {
            case StoreMessageType.Write:
                return TestStore.WritePayload(op.Path, op.Value);
            case StoreMessageType.SetPermissions:
                // Often keep the sender as owner, so that unprivileged owners really change their nodes' permissions.
                string[] perms = (string[])op.Perms.Clone();
                if (op.Value != "1") perms[0] = perms[0][0] + op.Domain.ToString();
                return TestStore.Payload(new[] { op.Path }.Concat(perms).ToArray());
            case StoreMessageType.Watch:
            case StoreMessageType.Unwatch:
                return TestStore.Payload(op.Path, op.Value.Length == 0 ? "t" : op.Value.Replace("\0", ""));
            case StoreMessageType.TransactionStart:
                return TestStore.Payload("");
            case StoreMessageType.TransactionEnd:
                return TestStore.Payload(op.Value == "1" ? "F" : "T");
            default:
                return TestStore.Payload(op.Path);
        }
    }

    [Property(Arbitrary = new[] { typeof(ModelGenerators) }, MaxTest = 800)]
    public void The_store_answers_and_notifies_like_the_reference_model(ModelOp[] ops)
    {
        using var store = new TestStore(Limits());
        var model = new ReferenceStore();
        // The shared node and each guest's home, as the toolstack would make them.
        Setup(store, model, "/t", "n0", "b1", "b2", "r3");
        // Writable but unreadable below a readable parent: its watchers hear of it through the parent.
        Setup(store, model, "/t/h", "n0", "w1", "w2", "w3");
        for (uint d = 1; d <= 3; d++) Setup(store, model, "/local/domain/" + d, "n" + d);

        for (int step = 0; step < ops.Length; step++)
        {
            ModelOp op = ops[step];
            IReadOnlyList<uint> open = model.OpenTransactions(op.Domain);
            uint tx = op.Transaction switch
            {
                0 => 0,
                3 => 999,
                _ => open.Count >= op.Transaction ? open[op.Transaction - 1] : 0,
            };

            byte[] payload = PayloadOf(op, op.Type);
            (StoreMessageType expectedType, byte[] expectedPayload) = model.Handle(op.Domain, op.Type, tx, payload);
            StoreMessage reply = store.Send(op.Domain, op.Type, payload, tx);
            string where = $"step {step}: {op} (tx {tx})";
            Assert.True(expectedType == reply.Type, $"{where}: expected {expectedType} {Show(expectedPayload)}, got {reply}");
            Assert.True(expectedPayload.AsSpan().SequenceEqual(reply.Payload), $"{where}: expected {Show(expectedPayload)}, got {reply}");
            for (uint d = 0; d < 4; d++)
            {
                var expected = model.Events.TryGetValue(d, out HashSet<string> set) ? set : new HashSet<string>();
                var actual = store.DrainEvents(d);
                Assert.True(actual.Count == actual.Distinct().Count(), $"{where}: duplicate events for d{d}: {string.Join(", ", actual)}");
                Assert.True(expected.SetEquals(actual), $"{where}: events for d{d}: expected [{string.Join(", ", expected.OrderBy(e => e))}], got [{string.Join(", ", actual.OrderBy(e => e))}]");
            }
        }

        CompareTrees(store, model);
    }

    private static void Setup(TestStore store, ReferenceStore model, string path, params string[] perms)
    {
        byte[] mkdir = TestStore.Payload(path);
        Assert.Equal(model.Handle(0, StoreMessageType.Mkdir, 0, mkdir).Type, store.Send(0, StoreMessageType.Mkdir, mkdir).Type);
        byte[] set = TestStore.Payload(new[] { path }.Concat(perms).ToArray());
        Assert.Equal(model.Handle(0, StoreMessageType.SetPermissions, 0, set).Type, store.Send(0, StoreMessageType.SetPermissions, set).Type);
    }

    private static string Show(byte[] payload) => "\"" + Encoding.ASCII.GetString(payload).Replace("\0", "\\0") + "\"";

    /// <summary>Every node of the model is in the store with the same value and permissions, and the
    /// store has no other; node counts agree per owner.</summary>
    private static void CompareTrees(TestStore store, ReferenceStore model)
    {
        var seen = new List<string>();
        var pending = new Stack<string>();
        pending.Push("/");
        while (pending.Count > 0)
        {
            string path = pending.Pop();
            Assert.True(seen.Count <= model.Tree.Count, "the store's tree has more nodes than the model's, or a cycle, at " + path);
            seen.Add(path);
            ReferenceStore.Node node = model.Tree[path];
            Assert.Equal(node.Value, store.Read(0, path).Payload);
            Assert.Equal(string.Concat(node.Perms.Select(p => p.Letter + p.Id.ToString() + "\0")), store.GetPerms(0, path).Text);
            foreach (string child in store.Directory(0, path).Strings) pending.Push(path == "/" ? "/" + child : path + "/" + child);
        }

        Assert.Equal(model.Tree.Keys.Where(k => k[0] == '/').OrderBy(k => k, StringComparer.Ordinal), seen.OrderBy(k => k, StringComparer.Ordinal));
        for (uint d = 0; d < 4; d++)
        {
            Assert.Equal(model.Tree.Values.Count(n => n.Owner == d), store.Server.NodesOwnedBy(d));
        }

        Assert.Equal(model.Tree.Count, store.Server.NodeCount);
    }
}

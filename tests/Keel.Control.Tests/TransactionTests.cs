using Keel.Control.Tests.Support;
using Keel.Guests.Control.Store;
using Keel.Ringlib.Protocols;

namespace Keel.Control.Tests;

/// <summary>TRANSACTION_START and TRANSACTION_END: isolation, commit, abort, conflicts.</summary>
public sealed class TransactionTests
{
    private static TestStore Store()
    {
        var store = new TestStore();
        Expect.Ok(store.Mkdir(0, "/t"));
        Expect.Ok(store.SetPerms(0, "/t", "b0"));
        return store;
    }

    [Fact]
    public void Changes_inside_a_transaction_are_seen_only_by_it_until_it_commits()
    {
        using var store = Store();
        uint tx = store.Start(1);
        Expect.Ok(store.Write(1, "/t/a/b", "in", tx));
        Expect.Value("in", store.Read(1, "/t/a/b", tx));
        Expect.Strings(store.Directory(1, "/t", tx), "a");
        Expect.Error(StoreError.ENOENT, store.Read(1, "/t/a/b"));
        Expect.Error(StoreError.ENOENT, store.Read(2, "/t/a"));
        Expect.Ok(store.End(1, tx, true));
        Expect.Value("in", store.Read(2, "/t/a/b"));
        Expect.Strings(store.GetPerms(0, "/t/a"), "b1");
        Assert.Equal(2, store.Server.NodesOwnedBy(1));
    }

    [Fact]
    public void An_aborted_transaction_leaves_the_tree_as_it_was()
    {
        using var store = Store();
        Expect.Ok(store.Write(0, "/t/keep", "old"));
        int nodes = store.Server.NodeCount;
        int free = store.Server.FreeBytes;
        uint tx = store.Start(1);
        Expect.Ok(store.Write(1, "/t/keep", "new", tx));
        Expect.Ok(store.Write(1, "/t/more/and/more", "x", tx));
        Expect.Ok(store.Rm(1, "/t/keep", tx));
        Expect.Ok(store.End(1, tx, false));
        Expect.Value("old", store.Read(1, "/t/keep"));
        Assert.Equal(nodes, store.Server.NodeCount);
        Assert.Equal(free, store.Server.FreeBytes);
    }

    [Fact]
    public void A_commit_fails_with_EAGAIN_when_a_node_it_read_changed_meanwhile()
    {
        using var store = Store();
        Expect.Ok(store.Write(0, "/t/x", "1"));
        uint tx = store.Start(1);
        Expect.Value("1", store.Read(1, "/t/x", tx));
        Expect.Ok(store.Write(1, "/t/y", "from tx", tx));
        Expect.Ok(store.Write(2, "/t/x", "2"));
        Expect.Error(StoreError.EAGAIN, store.End(1, tx, true));
        Expect.Error(StoreError.ENOENT, store.Read(0, "/t/y"));
        Expect.Error(StoreError.ENOENT, store.End(1, tx, true));
    }

    [Fact]
    public void A_commit_succeeds_when_only_unrelated_nodes_changed()
    {
        using var store = Store();
        Expect.Ok(store.Write(0, "/t/x", "1"));
        Expect.Ok(store.Write(0, "/t/other", "1"));
        uint tx = store.Start(1);
        Expect.Value("1", store.Read(1, "/t/x", tx));
        Expect.Ok(store.Write(1, "/t/x", "2", tx));
        Expect.Ok(store.Write(2, "/t/other", "changed"));
        Expect.Ok(store.End(1, tx, true));
        Expect.Value("2", store.Read(0, "/t/x"));
    }

    [Fact]
    public void Two_transactions_writing_the_same_node_cannot_both_commit()
    {
        using var store = Store();
        Expect.Ok(store.Write(0, "/t/n", "0"));
        uint one = store.Start(1);
        uint two = store.Start(2);
        Expect.Ok(store.Write(1, "/t/n", "one", one));
        Expect.Ok(store.Write(2, "/t/n", "two", two));
        Expect.Ok(store.End(1, one, true));
        Expect.Error(StoreError.EAGAIN, store.End(2, two, true));
        Expect.Value("one", store.Read(0, "/t/n"));
    }

    [Fact]
    public void Watches_fire_at_commit_and_not_for_an_abort()
    {
        using var store = Store();
        Expect.Ok(store.Watch(2, "/t", "w"));
        store.DrainEvents(2);
        uint tx = store.Start(1);
        Expect.Ok(store.Write(1, "/t/a", "1", tx));
        Assert.Empty(store.DrainEvents(2));
        Expect.Ok(store.End(1, tx, true));
        Assert.Equal(new[] { "/t/a|w" }, store.DrainEvents(2).ToArray());
        tx = store.Start(1);
        Expect.Ok(store.Write(1, "/t/b", "1", tx));
        Expect.Ok(store.End(1, tx, false));
        Assert.Empty(store.DrainEvents(2));
    }

    [Fact]
    public void Removal_inside_a_transaction_hides_the_subtree_and_commits_it()
    {
        using var store = Store();
        Expect.Ok(store.Write(1, "/t/a/b/c", "1"));
        Expect.Ok(store.Watch(0, "/t/a/b/c", "leaf"));
        store.DrainEvents(0);
        uint tx = store.Start(1);
        Expect.Ok(store.Write(1, "/t/a/new", "n", tx));
        Expect.Ok(store.Rm(1, "/t/a", tx));
        Expect.Error(StoreError.ENOENT, store.Read(1, "/t/a/b/c", tx));
        Expect.Error(StoreError.ENOENT, store.Read(1, "/t/a/new", tx));
        Expect.Strings(store.Directory(1, "/t", tx));
        Expect.Value("1", store.Read(1, "/t/a/b/c"));
        Expect.Ok(store.End(1, tx, true));
        Expect.Error(StoreError.ENOENT, store.Read(1, "/t/a"));
        Assert.Equal(new[] { "/t/a/b/c|leaf" }, store.DrainEvents(0).ToArray());
        Assert.Equal(0, store.Server.NodesOwnedBy(1));
    }

    [Fact]
    public void Transaction_ids_belong_to_one_connection()
    {
        using var store = Store();
        uint tx = store.Start(1);
        Expect.Error(StoreError.ENOENT, store.Read(2, "/t", tx));
        Expect.Error(StoreError.ENOENT, store.End(2, tx, true));
        Expect.Error(StoreError.ENOENT, store.Read(1, "/t", tx + 100));
        Expect.Error(StoreError.EBUSY, store.Send(1, StoreMessageType.TransactionStart, TestStore.Payload(""), tx));
        Expect.Error(StoreError.EINVAL, store.Send(1, StoreMessageType.TransactionEnd, TestStore.Payload("X"), tx));
        Expect.Ok(store.End(1, tx, true));
        Expect.Error(StoreError.ENOENT, store.End(1, 0, true));
    }

    [Fact]
    public void Open_transactions_count_against_the_transaction_quota()
    {
        using var store = Store();
        var open = new System.Collections.Generic.List<uint>();
        for (int i = 0; i < 10; i++) open.Add(store.Start(1));
        Expect.Error(StoreError.ENOSPC, store.Send(1, StoreMessageType.TransactionStart, TestStore.Payload("")));
        Expect.Ok(store.End(1, open[3], false));
        open[3] = store.Start(1);
        Assert.Equal(10, new System.Collections.Generic.HashSet<uint>(open).Count);
        Assert.True(store.Start(2) > 0);
    }

    [Fact]
    public void Set_perms_in_a_transaction_applies_at_commit()
    {
        using var store = Store();
        Expect.Ok(store.Write(1, "/t/p", "v"));
        Expect.Ok(store.SetPerms(1, "/t/p", "n1"));
        uint tx = store.Start(1);
        Expect.Ok(store.SetPerms(1, "/t/p", "n1 r2", tx));
        Expect.Strings(store.GetPerms(1, "/t/p", tx), "n1", "r2");
        Expect.Error(StoreError.EACCES, store.Read(2, "/t/p"));
        Expect.Ok(store.End(1, tx, true));
        Expect.Value("v", store.Read(2, "/t/p"));
    }

    [Fact]
    public void A_transaction_cannot_take_more_nodes_than_the_node_quota()
    {
        var limits = StoreLimits.Default;
        limits.NodeQuota = 5;
        using var store = new TestStore(limits);
        Expect.Ok(store.Mkdir(0, "/q"));
        Expect.Ok(store.SetPerms(0, "/q", "b0"));
        uint tx = store.Start(1);
        for (int i = 0; i < 5; i++) Expect.Ok(store.Write(1, "/q/" + i, "x", tx));
        Expect.Error(StoreError.ENOSPC, store.Write(1, "/q/5", "x", tx));
        Expect.Ok(store.Write(1, "/q/outside", "x"));
        Expect.Error(StoreError.ENOSPC, store.End(1, tx, true));
        Assert.Equal(1, store.Server.NodesOwnedBy(1));
    }
}

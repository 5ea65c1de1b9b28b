using Keel.Control.Tests.Support;
using Keel.Ringlib.Protocols;

namespace Keel.Control.Tests;

/// <summary>WATCH, UNWATCH, WATCH_EVENT, and who hears of what.</summary>
public sealed class WatchTests
{
    [Fact]
    public void Registering_a_watch_fires_it_once_after_the_reply()
    {
        using var store = new TestStore();
        var header = new StoreMessageHeader { Type = (uint)StoreMessageType.Watch, RequestId = 9, Length = 7 };
        Assert.True(store.Server.Submit(1, header, TestStore.Payload("/a", "tok")));
        var messages = store.Take(1);
        Assert.Equal(2, messages.Count);
        Assert.Equal(StoreMessageType.Watch, messages[0].Type);
        Assert.Equal(9u, messages[0].RequestId);
        Assert.Equal(StoreMessageType.WatchEvent, messages[1].Type);
        Assert.Equal("/a\0tok\0", messages[1].Text);
    }

    [Fact]
    public void A_change_fires_watches_on_the_node_and_its_ancestors_but_not_its_descendants()
    {
        using var store = new TestStore();
        foreach (string path in new[] { "/", "/a", "/a/b", "/a/b/c", "/a/bb", "/x" }) Expect.Ok(store.Watch(0, path, path));
        store.DrainEvents(0);
        Expect.Ok(store.Write(0, "/a/b", "v"));
        Assert.Equal(new[] { "/a/b|/a/b", "/a/b|/a", "/a/b|/" }, store.DrainEvents(0).ToArray());
    }

    [Fact]
    public void Removing_a_subtree_fires_the_removed_node_and_exactly_the_watched_descendants()
    {
        using var store = new TestStore();
        Expect.Ok(store.Write(0, "/r/a/b", "1"));
        Expect.Ok(store.Watch(0, "/r", "top"));
        Expect.Ok(store.Watch(0, "/r/a/b", "leaf"));
        Expect.Ok(store.Watch(0, "/r/a/b/missing", "nothing"));
        store.DrainEvents(0);
        Expect.Ok(store.Rm(0, "/r/a"));
        var events = store.DrainEvents(0);
        events.Sort(System.StringComparer.Ordinal);
        Assert.Equal(new[] { "/r/a/b|leaf", "/r/a|top" }, events.ToArray());
    }

    [Fact]
    public void A_watcher_hears_only_of_nodes_it_may_read_or_whose_parent_it_may_read()
    {
        using var store = new TestStore();
        Expect.Ok(store.Mkdir(0, "/s"));
        Expect.Ok(store.SetPerms(0, "/s", "n0 r1"));
        Expect.Ok(store.Watch(1, "/s", "one"));
        Expect.Ok(store.Watch(2, "/s", "two"));
        store.DrainEvents(1);
        store.DrainEvents(2);
        Expect.Ok(store.Write(0, "/s/secret", "x"));
        Assert.Equal(new[] { "/s/secret|one" }, store.DrainEvents(1).ToArray());
        Expect.Ok(store.SetPerms(0, "/s/secret", "n0"));
        Assert.Equal(new[] { "/s/secret|one" }, store.DrainEvents(1).ToArray());
        Assert.Empty(store.DrainEvents(2));
        Expect.Ok(store.Write(0, "/s/secret/deeper", "x"));
        Assert.Empty(store.DrainEvents(1));
    }

    [Fact]
    public void A_domain_that_loses_read_access_still_hears_of_that_change()
    {
        using var store = new TestStore();
        Expect.Ok(store.Write(0, "/open", "x"));
        Expect.Ok(store.SetPerms(0, "/open", "r0"));
        Expect.Ok(store.Watch(2, "/open", "t"));
        store.DrainEvents(2);
        Expect.Ok(store.SetPerms(0, "/open", "n0"));
        Assert.Equal(new[] { "/open|t" }, store.DrainEvents(2).ToArray());
        Expect.Ok(store.Write(0, "/open", "y"));
        Assert.Empty(store.DrainEvents(2));
    }

    [Fact]
    public void A_relative_watch_reports_relative_paths()
    {
        using var store = new TestStore();
        Expect.Ok(store.Mkdir(0, "/local/domain/1"));
        Expect.Ok(store.SetPerms(0, "/local/domain/1", "n1"));
        Expect.Ok(store.Watch(1, "device", "dev"));
        Assert.Equal(new[] { "device|dev" }, store.DrainEvents(1).ToArray());
        Expect.Ok(store.Write(0, "/local/domain/1/device/vbd/51712/state", "1"));
        Assert.Equal(new[] { "device/vbd/51712/state|dev" }, store.DrainEvents(1).ToArray());
        Expect.Ok(store.Unwatch(1, "/local/domain/1/device", "dev"));
        Expect.Ok(store.Write(0, "/local/domain/1/device/x", "1"));
        Assert.Empty(store.DrainEvents(1));
    }

    [Fact]
    public void The_same_watch_twice_answers_EEXIST_and_an_unknown_one_ENOENT_on_unwatch()
    {
        using var store = new TestStore();
        Expect.Ok(store.Watch(1, "/a", "t"));
        Expect.Error(StoreError.EEXIST, store.Watch(1, "/a", "t"));
        Expect.Ok(store.Watch(1, "/a", "u"));
        Expect.Ok(store.Watch(2, "/a", "t"));
        Expect.Ok(store.Unwatch(1, "/a", "t"));
        Expect.Error(StoreError.ENOENT, store.Unwatch(1, "/a", "t"));
        Expect.Error(StoreError.EINVAL, store.Send(1, StoreMessageType.Watch, TestStore.Payload("/a")));
        Expect.Error(StoreError.EINVAL, store.Send(1, StoreMessageType.Watch, TestStore.Payload("/a", "t", "1")));
        Expect.Error(StoreError.EINVAL, store.Watch(1, "/a/", "t"));
    }

    [Fact]
    public void Mkdir_of_an_existing_node_fires_nothing_and_identical_pending_events_are_sent_once()
    {
        using var store = new TestStore();
        Expect.Ok(store.Write(0, "/a", ""));
        Expect.Ok(store.SetPerms(0, "/a", "r0"));
        Expect.Ok(store.Watch(1, "/a", "t"));
        store.DrainEvents(1);
        Expect.Ok(store.Mkdir(0, "/a"));
        Assert.Empty(store.DrainEvents(1));
        Expect.Ok(store.Write(0, "/a", "1"));
        Expect.Ok(store.Write(0, "/a", "2"));
        Expect.Ok(store.Write(0, "/a", "3"));
        Assert.Equal(new[] { "/a|t" }, store.DrainEvents(1).ToArray());
    }

    [Fact]
    public void Reset_watches_drops_the_callers_watches_and_transactions()
    {
        using var store = new TestStore();
        Expect.Ok(store.Watch(1, "/a", "t"));
        uint tx = store.Start(1);
        Expect.Ok(store.Send(1, StoreMessageType.ResetWatches, TestStore.Payload("")));
        store.DrainEvents(1);
        Expect.Ok(store.Write(0, "/a", "1"));
        Assert.Empty(store.DrainEvents(1));
        Expect.Error(StoreError.ENOENT, store.Read(1, "/a", tx));
    }

    [Fact]
    public void Watches_count_against_the_watch_quota()
    {
        var limits = Keel.Guests.Control.Store.StoreLimits.Default;
        limits.WatchQuota = 3;
        using var store = new TestStore(limits);
        for (int i = 0; i < 3; i++) Expect.Ok(store.Watch(1, "/w", "t" + i));
        Expect.Error(StoreError.ENOSPC, store.Watch(1, "/w", "t3"));
        Expect.Ok(store.Unwatch(1, "/w", "t0"));
        Expect.Ok(store.Watch(1, "/w", "t3"));
        for (int i = 0; i < 10; i++) Expect.Ok(store.Watch(0, "/w", "t" + i));
    }
}

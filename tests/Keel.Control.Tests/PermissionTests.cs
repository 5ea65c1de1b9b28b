using Keel.Control.Tests.Support;
using Keel.Ringlib.Protocols;

namespace Keel.Control.Tests;

/// <summary>Xen's permission model: owner, default entry, per-domain entries, the privileged domain.</summary>
public sealed class PermissionTests
{
    private static TestStore WithNode(string perms)
    {
        var store = new TestStore();
        Expect.Ok(store.Write(0, "/p", "value"));
        Expect.Ok(store.SetPerms(0, "/p", perms));
        return store;
    }

    [Fact]
    public void The_owner_has_full_access_whatever_its_entry_says()
    {
        using var store = WithNode("n1");
        Expect.Value("value", store.Read(1, "/p"));
        Expect.Ok(store.Write(1, "/p", "mine"));
        Expect.Error(StoreError.EACCES, store.Read(2, "/p"));
    }

    [Fact]
    public void The_first_entry_gives_the_access_of_unlisted_domains()
    {
        using var store = WithNode("r0 w2");
        Expect.Value("value", store.Read(1, "/p"));
        Expect.Error(StoreError.EACCES, store.Write(1, "/p", "x"));
        Expect.Error(StoreError.EACCES, store.Read(2, "/p"));
        Expect.Ok(store.Write(2, "/p", "from 2"));
    }

    [Fact]
    public void A_listed_domain_gets_exactly_its_entry()
    {
        using var store = WithNode("b0 n3");
        Expect.Value("value", store.Read(1, "/p"));
        Expect.Error(StoreError.EACCES, store.Read(3, "/p"));
        Expect.Error(StoreError.EACCES, store.Write(3, "/p", "x"));
    }

    [Fact]
    public void The_privileged_domain_has_full_access_to_everything()
    {
        using var store = WithNode("n1");
        Expect.Value("value", store.Read(0, "/p"));
        Expect.Ok(store.Write(0, "/p", "x"));
        Expect.Ok(store.SetPerms(0, "/p", "n2"));
        Expect.Strings(store.GetPerms(0, "/p"), "n2");
    }

    [Fact]
    public void A_missing_node_below_an_unreadable_parent_answers_EACCES_not_ENOENT()
    {
        using var store = WithNode("n0");
        Expect.Error(StoreError.EACCES, store.Read(1, "/p/missing"));
        Expect.Error(StoreError.EACCES, store.Read(1, "/p/missing/deeper"));
        Expect.Ok(store.SetPerms(0, "/p", "r0"));
        Expect.Error(StoreError.ENOENT, store.Read(1, "/p/missing/deeper"));
    }

    [Fact]
    public void Creating_below_a_parent_needs_write_on_the_nearest_existing_ancestor()
    {
        using var store = WithNode("r0");
        Expect.Error(StoreError.EACCES, store.Write(1, "/p/a/b", "x"));
        Expect.Ok(store.SetPerms(0, "/p", "r0 w1"));
        Expect.Ok(store.Write(1, "/p/a/b", "x"));
        Expect.Strings(store.GetPerms(1, "/p/a/b"), "r1", "w1");
    }

    [Fact]
    public void Only_the_owner_or_the_privileged_domain_may_set_permissions()
    {
        using var store = WithNode("b1 b2");
        Expect.Error(StoreError.EACCES, store.SetPerms(2, "/p", "b1"));
        Expect.Ok(store.SetPerms(1, "/p", "r1 b2"));
        Expect.Strings(store.GetPerms(2, "/p"), "r1", "b2");
    }

    [Fact]
    public void An_unprivileged_owner_cannot_give_a_node_away()
    {
        using var store = WithNode("n1");
        Expect.Error(StoreError.EPERM, store.SetPerms(1, "/p", "n2"));
        Expect.Strings(store.GetPerms(1, "/p"), "n1");
        Assert.Equal(1, store.Server.NodesOwnedBy(1));
    }

    [Fact]
    public void Giving_a_node_to_another_owner_moves_it_between_the_node_counts()
    {
        using var store = WithNode("n1");
        Assert.Equal(1, store.Server.NodesOwnedBy(1));
        Expect.Ok(store.SetPerms(0, "/p", "n2"));
        Assert.Equal(0, store.Server.NodesOwnedBy(1));
        Assert.Equal(1, store.Server.NodesOwnedBy(2));
    }

    [Theory]
    [InlineData("x1")]
    [InlineData("r")]
    [InlineData("r-1")]
    [InlineData("r65536")]
    [InlineData("r1x")]
    public void Malformed_permission_entries_answer_EINVAL(string entry)
    {
        using var store = WithNode("n1");
        Expect.Error(StoreError.EINVAL, store.SetPerms(0, "/p", entry));
        Expect.Error(StoreError.EINVAL, store.Send(0, StoreMessageType.SetPermissions, TestStore.Payload("/p")));
    }

    [Fact]
    public void Entries_for_domains_that_do_not_exist_are_kept_but_grant_nothing()
    {
        using var store = WithNode("n0 r9");
        Expect.Strings(store.GetPerms(0, "/p"), "n0", "r9");
        store.Domains.MaxDomain = 9;
        // Still ignored: the entry was set when domain 9 did not exist (so a new domain 9 inherits nothing).
        Assert.True(store.Server.OpenLocalConnection(9));
        Expect.Error(StoreError.EACCES, store.Read(9, "/p"));
    }

    [Fact]
    public void An_owner_that_does_not_exist_answers_ENOENT()
    {
        using var store = WithNode("n1");
        Expect.Error(StoreError.ENOENT, store.SetPerms(0, "/p", "n9"));
    }

    [Fact]
    public void An_unprivileged_domain_may_set_at_most_five_entries()
    {
        using var store = WithNode("n1");
        Expect.Ok(store.SetPerms(1, "/p", "n1 r0 r2 r3 r1"));
        Expect.Error(StoreError.ENOSPC, store.SetPerms(1, "/p", "n1 r0 r2 r3 r1 r2"));
        Expect.Ok(store.SetPerms(0, "/p", "n1 r0 r2 r3 r1 r2 r3"));
    }

    [Fact]
    public void Special_paths_have_permissions_the_privileged_domain_can_set()
    {
        using var store = new TestStore();
        Expect.Error(StoreError.EACCES, store.GetPerms(1, "@introduceDomain"));
        Expect.Ok(store.SetPerms(0, "@introduceDomain", "n0 r1"));
        Expect.Strings(store.GetPerms(1, "@introduceDomain"), "n0", "r1");
        Expect.Error(StoreError.EINVAL, store.Read(0, "@introduceDomain"));
    }

    [Fact]
    public void Privileged_only_requests_from_a_guest_answer_EACCES()
    {
        using var store = new TestStore();
        Expect.Error(StoreError.EACCES, store.Send(1, StoreMessageType.Introduce, TestStore.Payload("2", "100", "3")));
        Expect.Error(StoreError.EACCES, store.Send(1, StoreMessageType.Release, TestStore.Payload("2")));
        Expect.Error(StoreError.EACCES, store.Send(1, StoreMessageType.IsDomainIntroduced, TestStore.Payload("2")));
        Expect.Error(StoreError.EACCES, store.Send(1, StoreMessageType.Resume, TestStore.Payload("2")));
    }

    [Fact]
    public void Removing_needs_write_on_the_node_but_not_on_its_children()
    {
        using var store = WithNode("n1");
        Expect.Ok(store.Write(0, "/p/locked", "x"));
        Expect.Ok(store.SetPerms(0, "/p/locked", "n0"));
        Expect.Error(StoreError.EACCES, store.Rm(2, "/p"));
        Expect.Error(StoreError.EACCES, store.Rm(1, "/p/locked"));
        Expect.Ok(store.Rm(1, "/p"));
        Expect.Error(StoreError.ENOENT, store.Read(0, "/p/locked"));
    }
}

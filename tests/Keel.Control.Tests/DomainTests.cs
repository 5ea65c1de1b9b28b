using System.Linq;
using Keel.Control.Tests.Support;
using Keel.Guests.Control.Store;
using Keel.Ringlib.Protocols;

namespace Keel.Control.Tests;

/// <summary>INTRODUCE, RELEASE, IS_DOMAIN_INTRODUCED, RESUME, the special watches and the seeded nodes.</summary>
public sealed unsafe class DomainTests
{
    [Fact]
    public void Introduce_connects_the_domain_through_the_host_and_fires_introduceDomain()
    {
        using var store = new TestStore(domains: 1);
        Expect.Ok(store.Watch(0, "@introduceDomain", "intro"));
        store.DrainEvents(0);
        Expect.Ok(store.Send(0, StoreMessageType.Introduce, TestStore.Payload("5", "12345", "7")));
        Assert.Equal((5u, 12345ul, 7u), store.Domains.Connected.Single());
        Assert.Equal(StoreConnectionState.Ring, store.Server.ConnectionState(5));
        Assert.Equal(new[] { "@introduceDomain|intro" }, store.DrainEvents(0).ToArray());
        Expect.Value("T\0", store.Send(0, StoreMessageType.IsDomainIntroduced, TestStore.Payload("5")));
        Expect.Value("F\0", store.Send(0, StoreMessageType.IsDomainIntroduced, TestStore.Payload("6")));
    }

    [Fact]
    public void Introduce_refuses_bad_arguments_and_a_failed_mapping()
    {
        using var store = new TestStore(domains: 1);
        Expect.Error(StoreError.EINVAL, store.Send(0, StoreMessageType.Introduce, TestStore.Payload("5", "1")));
        Expect.Error(StoreError.EINVAL, store.Send(0, StoreMessageType.Introduce, TestStore.Payload("5", "1", "0")));
        Expect.Error(StoreError.EINVAL, store.Send(0, StoreMessageType.Introduce, TestStore.Payload("x", "1", "3")));
        Expect.Error(StoreError.EINVAL, store.Send(0, StoreMessageType.Introduce, TestStore.Payload("0", "1", "3")));
        store.Domains.FailConnect = true;
        Expect.Error(StoreError.EINVAL, store.Send(0, StoreMessageType.Introduce, TestStore.Payload("5", "1", "3")));
        Assert.Equal(StoreConnectionState.None, store.Server.ConnectionState(5));
    }

    [Fact]
    public void A_ring_domain_is_served_request_by_request_with_ids_echoed()
    {
        using var store = new TestStore(domains: 1);
        var guest = new RingGuest(store, 3);
        var replies = guest.Request(StoreMessageType.GetDomainPath, 77, TestStore.Payload("3"));
        Assert.Equal("/local/domain/3\0", replies.Single().Text);
        Assert.Equal(77u, replies.Single().RequestId);
        replies = guest.Request(StoreMessageType.Read, 78, TestStore.Payload("/tool"));
        Assert.Equal(StoreError.EACCES, replies.Single().Error);
        Assert.Equal(78u, replies.Single().RequestId);
        Assert.True(store.Domains.Notifications[3] > 0);
    }

    [Fact]
    public void Release_drops_the_connection_its_watches_and_transactions_and_fires_releaseDomain()
    {
        using var store = new TestStore(domains: 1);
        store.Domains.MaxDomain = 4;
        var guest = new RingGuest(store, 4);
        Expect.Ok(store.Watch(0, "@releaseDomain", "gone"));
        store.DrainEvents(0);
        Assert.Equal(StoreError.None, store.Server.MakeDirectory("/local/domain/4"u8));
        Assert.Equal(StoreError.None, store.Server.SetPermissions("/local/domain/4"u8, "n4\0"u8));
        guest.Request(StoreMessageType.Watch, 1, TestStore.Payload("data", "t"));
        guest.Request(StoreMessageType.TransactionStart, 2, TestStore.Payload(""));
        guest.Request(StoreMessageType.Write, 3, TestStore.WritePayload("data/x", "1"));
        Assert.True(store.Server.NodesOwnedBy(4) >= 3);
        Expect.Ok(store.Send(0, StoreMessageType.Release, TestStore.Payload("4")));
        Assert.Equal(new uint[] { 4 }, store.Domains.Disconnected.ToArray());
        Assert.Equal(StoreConnectionState.None, store.Server.ConnectionState(4));
        Assert.Equal(new[] { "@releaseDomain|gone" }, store.DrainEvents(0).ToArray());
        // The nodes the domain owned went with it (xenstore.txt: "nodes owned by that domain will be removed").
        Assert.Equal(0, store.Server.NodesOwnedBy(4));
        Expect.Error(StoreError.ENOENT, store.Read(0, "/local/domain/4"));
        Expect.Error(StoreError.ENOENT, store.Send(0, StoreMessageType.Release, TestStore.Payload("4")));
        Expect.Error(StoreError.EINVAL, store.Send(0, StoreMessageType.Release, TestStore.Payload("0")));
    }

    [Fact]
    public void Release_strikes_the_domain_from_other_nodes_permissions()
    {
        using var store = new TestStore(domains: 1);
        new RingGuest(store, 2);
        Expect.Ok(store.Write(0, "/shared", "x"));
        Expect.Ok(store.SetPerms(0, "/shared", "n0 r2 w3"));
        Assert.Equal(StoreError.None, store.Server.ReleaseDomain(2));
        Expect.Strings(store.GetPerms(0, "/shared"), "n0", "w3");
    }

    [Fact]
    public void A_shutdown_fires_releaseDomain_once_until_resume()
    {
        using var store = new TestStore(domains: 1);
        new RingGuest(store, 2);
        Expect.Ok(store.Watch(0, "@releaseDomain", "r"));
        store.DrainEvents(0);
        store.Server.DomainShutDown(2);
        store.Server.DomainShutDown(2);
        Assert.Single(store.DrainEvents(0));
        Expect.Ok(store.Send(0, StoreMessageType.Resume, TestStore.Payload("2")));
        store.Server.DomainShutDown(2);
        Assert.Single(store.DrainEvents(0));
        Expect.Error(StoreError.ENOENT, store.Send(0, StoreMessageType.Resume, TestStore.Payload("9")));
    }

    [Fact]
    public void Special_watches_reach_an_unprivileged_domain_only_when_granted()
    {
        using var store = new TestStore(domains: 2);
        Expect.Ok(store.Watch(1, "@introduceDomain", "i"));
        store.DrainEvents(1);
        new RingGuest(store, 2);
        Assert.Empty(store.DrainEvents(1));
        Expect.Ok(store.SetPerms(0, "@introduceDomain", "n0 r1"));
        Assert.Equal(new[] { "@introduceDomain|i" }, store.DrainEvents(1).ToArray());
        new RingGuest(store, 3);
        Assert.Equal(new[] { "@introduceDomain|i" }, store.DrainEvents(1).ToArray());
    }

    [Fact]
    public void A_second_introduce_resets_the_connection_without_firing_again()
    {
        using var store = new TestStore(domains: 1);
        var guest = new RingGuest(store, 2);
        Expect.Ok(store.Watch(0, "@introduceDomain", "i"));
        store.DrainEvents(0);
        guest.Request(StoreMessageType.TransactionStart, 1, TestStore.Payload(""));
        Assert.Equal(StoreError.None, store.Server.IntroduceDomain(2, 5, 6));
        Assert.Empty(store.DrainEvents(0));
        var replies = guest.Request(StoreMessageType.Read, 2, TestStore.Payload("/x"), tx: 1);
        Assert.Equal(StoreError.ENOENT, replies.Single().Error);
    }

    [Fact]
    public void Seeding_writes_libxls_nodes_with_libxls_permissions()
    {
        using var store = new TestStore(domains: 1);
        var seed = new StoreDomainSeed { Domid = 3, TargetKiB = 65536, MaxKiB = 131072, Vcpus = 2, StoreMfn = 4242, StorePort = 1, ConsoleMfn = 4243, ConsolePort = 2 };
        Assert.Equal(StoreError.None, StoreSeeder.SeedDomain(store.Server, seed, "guest"u8));
        Assert.Equal(StoreError.None, StoreSeeder.SeedControlDomain(store.Server, "Domain-0"u8));
        new RingGuest(store, 3);
        Assert.True(store.Server.OpenLocalConnection(30));
        Expect.Value("guest", store.Read(0, "/local/domain/3/name"));
        Expect.Value("3", store.Read(0, "/local/domain/3/domid"));
        Expect.Value("65536", store.Read(0, "/local/domain/3/memory/target"));
        Expect.Value("131072", store.Read(0, "/local/domain/3/memory/static-max"));
        Expect.Value("online", store.Read(0, "/local/domain/3/cpu/1/availability"));
        Expect.Value("4242", store.Read(0, "/local/domain/3/store/ring-ref"));
        Expect.Value("2", store.Read(0, "/local/domain/3/console/port"));
        Expect.Value("/vm/3", store.Read(0, "/local/domain/3/vm"));
        Expect.Value("guest", store.Read(0, "/vm/3/name"));
        Expect.Value("Domain-0", store.Read(0, "/local/domain/0/name"));
        Expect.Strings(store.GetPerms(0, "/local/domain/3"), "n0", "r3");
        Expect.Strings(store.GetPerms(0, "/local/domain/3/device"), "n0", "r3");
        Expect.Strings(store.GetPerms(0, "/local/domain/3/device/suspend/event-channel"), "n3");
        Expect.Strings(store.GetPerms(0, "/local/domain/3/control/shutdown"), "n3");
        Expect.Strings(store.GetPerms(0, "/local/domain/3/data"), "n3");
        Expect.Strings(store.GetPerms(0, "/local/domain/3/memory/target"), "n0", "r3");
        Assert.Equal(11, store.Server.NodesOwnedBy(3));
    }
}

using System;
using System.Linq;
using System.Text;
using Keel.Control.Tests.Support;
using Keel.Guests.Control.Store;
using Keel.Ringlib.Protocols;

namespace Keel.Control.Tests;

/// <summary>
/// HOSTILE-INPUTS.md against the store's ring connections: each test feeds one domain garbage or floods,
/// and shows that domain gets an error or is cut off while another domain keeps being served, its data
/// untouched.
/// </summary>
public sealed unsafe class HostileRingTests
{
    /// <summary>A largest message: the output room the store keeps before it reads another request.</summary>
    private const int StoreConnectionCapacity = 16 + 4096;

    private sealed class Scene : IDisposable
    {
        public readonly TestStore Store = new TestStore(domains: 1);
        public readonly RingGuest Hostile;
        public readonly RingGuest Victim;

        public Scene(StoreLimits? limits = null)
        {
            if (limits != null) Store = new TestStore(limits, domains: 1);
            Store.Domains.MaxDomain = 10;
            foreach (uint d in new uint[] { 1, 2 })
            {
                Assert.Equal(StoreError.None, Store.Server.MakeDirectory(Encoding.ASCII.GetBytes("/local/domain/" + d)));
                Assert.Equal(StoreError.None, Store.Server.SetPermissions(Encoding.ASCII.GetBytes("/local/domain/" + d), Encoding.ASCII.GetBytes("n" + d + "\0")));
            }

            Hostile = new RingGuest(Store, 1);
            Victim = new RingGuest(Store, 2);
            Assert.Equal(StoreError.None, Victim.Request(StoreMessageType.Write, 1, TestStore.WritePayload("data/precious", "safe")).Single().Error);
            Victim.Request(StoreMessageType.Watch, 2, TestStore.Payload("data", "mine"));
        }

        /// <summary>The victim still reads its data and hears of its own writes.</summary>
        public void VictimIsServed()
        {
            var read = Victim.Request(StoreMessageType.Read, 100, TestStore.Payload("data/precious"));
            Assert.Equal("safe", read.Single().Text);
            var write = Victim.Request(StoreMessageType.Write, 101, TestStore.WritePayload("data/again", "1"));
            Assert.Contains(write, m => m.Type == StoreMessageType.Write && m.RequestId == 101);
            Assert.Contains(write, m => m.Type == StoreMessageType.WatchEvent && m.Text == "data/again\0mine\0");
            Assert.Equal(StoreConnectionState.Ring, Store.Server.ConnectionState(2));
        }

        public void Dispose() => Store.Dispose();
    }

    [Fact]
    public void A_header_split_byte_by_byte_across_many_notifications_is_reassembled()
    {
        using var scene = new Scene();
        byte[] message = RingGuest.Message(StoreMessageType.GetDomainPath, 9, TestStore.Payload("1"));
        for (int i = 0; i < message.Length - 1; i++)
        {
            scene.Hostile.Push(message.AsSpan(i, 1));
            Assert.Empty(scene.Hostile.Receive());
        }

        scene.Hostile.Push(message.AsSpan(message.Length - 1));
        Assert.Equal("/local/domain/1\0", scene.Hostile.Receive().Single().Text);
        scene.VictimIsServed();
    }

    [Fact]
    public void Messages_across_the_rings_wrap_and_many_in_one_notification_are_all_answered()
    {
        using var scene = new Scene();
        var all = new System.Collections.Generic.List<byte>();
        for (uint i = 0; i < 40; i++) all.AddRange(RingGuest.Message(StoreMessageType.Write, 1000 + i, TestStore.WritePayload("data/k" + i, new string('v', 60))));
        byte[] bytes = all.ToArray();
        var replies = new System.Collections.Generic.List<StoreMessage>();
        int sent = 0;
        while (sent < bytes.Length)
        {
            sent += scene.Hostile.Push(bytes.AsSpan(sent));
            while (scene.Store.Server.ServiceAll()) { }
            replies.AddRange(scene.Hostile.Receive());
        }

        while (scene.Store.Server.ServiceAll()) { }
        replies.AddRange(scene.Hostile.Receive());
        Assert.Equal(Enumerable.Range(1000, 40).Select(i => (uint)i), replies.Select(r => r.RequestId));
        Assert.All(replies, r => Assert.Equal("OK\0", r.Text));
        scene.VictimIsServed();
    }

    [Fact]
    public void A_length_above_4096_cuts_the_connection_off()
    {
        using var scene = new Scene();
        scene.Hostile.Push(RingGuest.Message(StoreMessageType.Write, 1, new byte[8], length: 4097));
        Assert.Equal(StoreConnectionState.CutOff, scene.Store.Server.ConnectionState(1));
        Assert.Equal(StoreConnectionFault.PayloadTooLarge, scene.Store.Server.ConnectionFault(1));
        scene.Hostile.Push(RingGuest.Message(StoreMessageType.GetDomainPath, 2, TestStore.Payload("1")));
        Assert.Empty(scene.Hostile.Receive());
        Expect.Value("T\0", scene.Store.Send(0, StoreMessageType.IsDomainIntroduced, TestStore.Payload("1")));
        scene.VictimIsServed();
        Expect.Ok(scene.Store.Send(0, StoreMessageType.Release, TestStore.Payload("1")));
    }

    [Fact]
    public void An_unknown_type_is_answered_ENOSYS_and_the_stream_goes_on()
    {
        using var scene = new Scene();
        var replies = scene.Hostile.Request((StoreMessageType)999, 5, TestStore.Payload("whatever", "more"));
        Assert.Equal(StoreError.ENOSYS, replies.Single().Error);
        Assert.Equal(5u, replies.Single().RequestId);
        replies = scene.Hostile.Request(StoreMessageType.GetDomainPath, 6, TestStore.Payload("1"));
        Assert.Equal("/local/domain/1\0", replies.Single().Text);
        scene.VictimIsServed();
    }

    [Fact]
    public void Payloads_without_the_NULs_they_need_answer_EINVAL()
    {
        using var scene = new Scene();
        foreach (StoreMessageType type in new[] { StoreMessageType.Read, StoreMessageType.Write, StoreMessageType.Mkdir, StoreMessageType.Remove,
                     StoreMessageType.Directory, StoreMessageType.GetPermissions, StoreMessageType.SetPermissions, StoreMessageType.Watch,
                     StoreMessageType.Unwatch, StoreMessageType.TransactionEnd, StoreMessageType.GetDomainPath })
        {
            var replies = scene.Hostile.Request(type, 7, Encoding.ASCII.GetBytes("data/precious"));
            Assert.Equal(StoreError.EINVAL, replies.Single().Error);
        }

        var empty = scene.Hostile.Request(StoreMessageType.Write, 8, Array.Empty<byte>());
        Assert.Equal(StoreError.EINVAL, empty.Single().Error);
        scene.VictimIsServed();
    }

    [Fact]
    public void A_producer_index_5000_ahead_cuts_the_connection_off_without_reading_outside_the_ring()
    {
        using var scene = new Scene();
        scene.Hostile.Page->RequestProducer = scene.Hostile.Page->RequestConsumer + 5000;
        scene.Store.Server.Service(1);
        Assert.Equal(StoreConnectionState.CutOff, scene.Store.Server.ConnectionState(1));
        Assert.Equal(StoreConnectionFault.RingIndex, scene.Store.Server.ConnectionFault(1));
        scene.VictimIsServed();
    }

    [Fact]
    public void A_response_consumer_index_that_lies_cuts_the_connection_off()
    {
        using var scene = new Scene();
        scene.Hostile.Page->ResponseConsumer = scene.Hostile.Page->ResponseProducer + 3000;
        scene.Hostile.Push(RingGuest.Message(StoreMessageType.GetDomainPath, 1, TestStore.Payload("1")));
        Assert.Equal(StoreConnectionState.CutOff, scene.Store.Server.ConnectionState(1));
        scene.VictimIsServed();
    }

    [Fact]
    public void A_domain_that_never_consumes_replies_stops_being_served_and_costs_a_bounded_buffer()
    {
        using var scene = new Scene();
        Assert.Equal(StoreError.None, scene.Hostile.Request(StoreMessageType.Watch, 1, TestStore.Payload("data", "flood")).Last().Error);
        Assert.Equal(StoreError.None, scene.Store.Server.Write("/local/domain/1/data/x"u8, "0"u8));
        int free = scene.Store.Server.FreeBytes;
        byte[] request = RingGuest.Message(StoreMessageType.Directory, 3, TestStore.Payload("/local/domain/1"));
        int accepted = 0;
        for (int round = 0; round < 2000; round++)
        {
            accepted += scene.Hostile.Push(request);
            scene.Store.Server.ServiceAll();
        }

        // The replies (16 bytes each: no children) fill the 1 KiB response ring and the 16 KiB output queue up
        // to room for one largest reply; then the store reads no more and the request ring stays full.
        int answered = (1024 + 16384 - StoreConnectionCapacity) / 16 + 2;
        Assert.InRange(accepted, 1024, 1024 + answered * request.Length);
        Assert.Equal(0, scene.Hostile.Push(request));
        for (int i = 0; i < 200; i++) Assert.Equal(StoreError.None, scene.Store.Server.Write("/local/domain/1/data/x"u8, "1"u8));
        Assert.Equal(free, scene.Store.Server.FreeBytes);
        scene.VictimIsServed();
        // Once it reads, it is served again.
        var late = scene.Hostile.Receive();
        Assert.NotEmpty(late);
    }

    [Fact]
    public void A_quota_attack_of_2000_nodes_is_refused_after_the_quota_and_others_are_unaffected()
    {
        using var scene = new Scene();
        int refused = 0;
        for (int i = 0; i < 2000; i++)
        {
            var reply = scene.Hostile.Request(StoreMessageType.Write, (uint)i, TestStore.WritePayload("data/n" + i, "x"));
            if (reply.Single().Error == StoreError.ENOSPC) refused++;
            else Assert.Equal("OK\0", reply.Single().Text);
        }

        // /local/domain/1 itself is the domain's too.
        Assert.Equal(1000, scene.Store.Server.NodesOwnedBy(1));
        Assert.Equal(2000 - 998, refused);
        scene.VictimIsServed();
        Assert.Equal(StoreError.None, scene.Store.Server.Write("/local/domain/2/data/more"u8, "ok"u8));
    }

    [Fact]
    public void Big_values_are_bounded_by_the_node_size_and_memory_quotas()
    {
        var limits = StoreLimits.Default;
        limits.MemoryQuota = 64 * 1024;
        using var scene = new Scene(limits);
        string big = new string('b', 2048);
        var tooBig = scene.Hostile.Request(StoreMessageType.Write, 1, TestStore.WritePayload("data/x", big + "b"));
        Assert.Equal(StoreError.ENOSPC, tooBig.Single().Error);
        int stored = 0;
        for (int i = 0; i < 100; i++)
        {
            var reply = scene.Hostile.Request(StoreMessageType.Write, (uint)i, TestStore.WritePayload("data/big" + i, big));
            if (reply.Single().Error == StoreError.None) stored++;
            else Assert.Equal(StoreError.ENOSPC, reply.Single().Error);
        }

        Assert.InRange(stored, 20, 32);
        scene.VictimIsServed();
    }

    [Fact]
    public void A_transaction_storm_is_bounded_by_the_transaction_quota()
    {
        using var scene = new Scene();
        int opened = 0;
        for (uint i = 0; i < 500; i++)
        {
            var reply = scene.Hostile.Request(StoreMessageType.TransactionStart, i, TestStore.Payload("")).Single();
            if (reply.Type == StoreMessageType.TransactionStart) opened++;
            else Assert.Equal(StoreError.ENOSPC, reply.Error);
        }

        Assert.Equal(10, opened);
        var victimTx = scene.Victim.Request(StoreMessageType.TransactionStart, 1, TestStore.Payload("")).Single();
        Assert.Equal(StoreMessageType.TransactionStart, victimTx.Type);
        scene.VictimIsServed();
    }

    [Fact]
    public void A_domain_filling_its_transactions_with_looks_is_refused_at_the_transaction_node_quota()
    {
        var limits = StoreLimits.Default;
        limits.TransactionNodeQuota = 50;
        using var scene = new Scene(limits);
        uint tx = uint.Parse(scene.Hostile.Request(StoreMessageType.TransactionStart, 1, TestStore.Payload("")).Single().Strings[0]);
        StoreError last = StoreError.None;
        for (int i = 0; i < 100 && last == StoreError.None; i++)
        {
            last = scene.Hostile.Request(StoreMessageType.Write, 2, TestStore.WritePayload("data/t" + i, "x"), tx).Single().Error;
        }

        Assert.Equal(StoreError.ENOSPC, last);
        scene.VictimIsServed();
    }

    [Fact]
    public void Another_domains_transaction_ids_and_watch_tokens_are_out_of_reach()
    {
        using var scene = new Scene();
        uint tx = uint.Parse(scene.Victim.Request(StoreMessageType.TransactionStart, 1, TestStore.Payload("")).Single().Strings[0]);
        Assert.Equal(StoreError.ENOENT, scene.Hostile.Request(StoreMessageType.TransactionEnd, 2, TestStore.Payload("T"), tx).Single().Error);
        Assert.Equal(StoreError.ENOENT, scene.Hostile.Request(StoreMessageType.Unwatch, 3, TestStore.Payload("/local/domain/2/data", "mine")).Single().Error);
        Assert.Equal(StoreError.EACCES, scene.Hostile.Request(StoreMessageType.Read, 4, TestStore.Payload("/local/domain/2/data/precious")).Single().Error);
        Assert.Equal(StoreError.EACCES, scene.Hostile.Request(StoreMessageType.Remove, 5, TestStore.Payload("/local/domain/2")).Single().Error);
        Assert.Equal("OK\0", scene.Victim.Request(StoreMessageType.TransactionEnd, 6, TestStore.Payload("T"), tx).Single().Text);
        scene.VictimIsServed();
    }
}

using FsCheck;
using FsCheck.Fluent;
using Keel.Kernel.Events;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Tests;

/// <summary>A shared_info page per domain, and a record of kicks.</summary>
internal struct TestDelivery : IEventDelivery
{
    public byte[][] Pages;
    public List<(ushort Domain, int Vcpu)> Kicks;
    public List<(ushort Domain, int Port)> Raised;

    public static TestDelivery For(int domains) => new()
    {
        Pages = Enumerable.Range(0, domains).Select(_ => new byte[4096]).ToArray(),
        Kicks = [],
        Raised = [],
    };

    public Span<byte> SharedInfo(ushort domain) => Pages[domain];

    public void Kick(ushort domain, int vcpu) => Kicks.Add((domain, vcpu));

    void IEventDelivery.Raised(ushort domain, int port) => Raised.Add((domain, port));
}

public class EventChannelTests
{
    private static (EventChannels<TestDelivery> Channels, TestDelivery Delivery) Machine(int domains = 3)
    {
        var delivery = TestDelivery.For(domains);
        var channels = new EventChannels<TestDelivery>(domains, delivery);
        for (ushort d = 0; d < domains; d++) channels.AddDomain(d);
        return (channels, delivery);
    }

    private static bool Bit(byte[] page, int offset, int bit) => (page[offset + bit / 8] & (1 << (bit % 8))) != 0;

    [Fact]
    public void Two_domains_joined_by_alloc_unbound_and_bind_interdomain_raise_each_others_ports_with_Xens_bit_order()
    {
        var (channels, delivery) = Machine();
        Assert.Equal(0, channels.AllocUnbound(1, 2, out int back));
        Assert.Equal(PortState.Unbound, channels.StateOf(1, back));
        Assert.Equal(0, channels.BindInterdomain(2, 1, back, out int front));
        Assert.Equal(PortState.Interdomain, channels.StateOf(1, back));
        delivery.Kicks.Clear();
        Array.Clear(delivery.Pages[1]);

        Assert.Equal(0, channels.Send(2, front));
        byte[] page = delivery.Pages[1];
        Assert.True(Bit(page, SharedInfoLayout.EventPending, back));
        Assert.True(Bit(page, SharedInfoLayout.PendingSelector, back / 64));
        Assert.Equal(1, page[SharedInfoLayout.UpcallPending]);
        Assert.Equal([(1, 0)], delivery.Kicks);
        // A second send while pending changes nothing and kicks no one.
        Assert.Equal(0, channels.Send(2, front));
        Assert.Single(delivery.Kicks);
    }

    [Fact]
    public void A_masked_port_is_left_pending_without_an_upcall_until_it_is_unmasked()
    {
        var (channels, delivery) = Machine();
        channels.AllocUnbound(1, 2, out int back);
        channels.BindInterdomain(2, 1, back, out int front);
        Array.Clear(delivery.Pages[1]);
        delivery.Kicks.Clear();
        delivery.Pages[1][SharedInfoLayout.EventMask + back / 8] |= (byte)(1 << (back % 8));
        delivery.Raised.Clear();
        channels.Send(2, front);
        Assert.True(channels.IsPending(1, back));
        Assert.Equal(0, delivery.Pages[1][SharedInfoLayout.UpcallPending]);
        Assert.Empty(delivery.Kicks);
        // A poller still hears of it: poll waits for the port, masked or not.
        Assert.Equal([(1, back)], delivery.Raised);
        Assert.Equal(0, channels.Unmask(1, back));
        Assert.Equal(1, delivery.Pages[1][SharedInfoLayout.UpcallPending]);
        Assert.Single(delivery.Kicks);
    }

    [Fact]
    public void Binding_a_port_offered_to_someone_else_a_bound_one_or_a_closed_one_is_refused()
    {
        var (channels, _) = Machine();
        channels.AllocUnbound(1, 2, out int offered);
        Assert.Equal(Errno.EINVAL, channels.BindInterdomain(0, 1, offered, out _));
        Assert.Equal(Errno.EINVAL, channels.BindInterdomain(2, 1, offered + 1, out _));
        Assert.Equal(0, channels.BindInterdomain(2, 1, offered, out _));
        Assert.Equal(Errno.EINVAL, channels.BindInterdomain(2, 1, offered, out _));
        Assert.Equal(Errno.EINVAL, channels.BindInterdomain(2, 1, 0, out _));
        Assert.Equal(Errno.ESRCH, channels.AllocUnbound(1, 7, out _));
    }

    [Fact]
    public void Closing_one_end_leaves_the_other_unbound_and_sending_on_a_closed_port_is_an_error()
    {
        var (channels, _) = Machine();
        channels.AllocUnbound(1, 2, out int back);
        channels.BindInterdomain(2, 1, back, out int front);
        Assert.Equal(0, channels.Close(2, front));
        Assert.Equal(PortState.Closed, channels.StateOf(2, front));
        Assert.Equal(PortState.Unbound, channels.StateOf(1, back));
        Assert.Equal(Errno.EINVAL, channels.Send(2, front));
        Assert.Equal(0, channels.Send(1, back));
        // The port may be bound again by the domain that closed its end.
        Assert.Equal(0, channels.BindInterdomain(2, 1, back, out _));
    }

    [Fact]
    public void A_virq_has_one_port_and_an_unbound_virq_is_dropped()
    {
        var (channels, delivery) = Machine();
        channels.RaiseVirq(1, 0);
        Assert.Empty(delivery.Kicks);
        Assert.Equal(0, channels.BindVirq(1, 0, out int timer));
        Assert.Equal(Errno.EEXIST, channels.BindVirq(1, 0, out _));
        Assert.Equal(Errno.EINVAL, channels.BindVirq(1, EventChannels<TestDelivery>.Virqs, out _));
        channels.RaiseVirq(1, 0);
        Assert.True(channels.IsPending(1, timer));
        Assert.Equal(Errno.EINVAL, channels.Send(1, timer));
    }

    [Fact]
    public void A_domain_can_use_every_port_but_port_0_and_then_gets_ENOSPC_costing_no_one_else()
    {
        var (channels, _) = Machine();
        for (int i = 1; i < EventChannels<TestDelivery>.PortsPerDomain; i++) Assert.Equal(0, channels.BindIpi(1, out _));
        Assert.Equal(Errno.ENOSPC, channels.BindIpi(1, out _));
        Assert.Equal(0, channels.BindIpi(2, out int other));
        Assert.Equal(1, other);
    }

    [Fact]
    public void Removing_a_domain_unbinds_its_peers_ends()
    {
        var (channels, _) = Machine();
        channels.AllocUnbound(1, 2, out int back);
        channels.BindInterdomain(2, 1, back, out int front);
        channels.RemoveDomain(2);
        Assert.Equal(PortState.Unbound, channels.StateOf(1, back));
        Assert.Equal(Errno.EINVAL, channels.Send(2, front));
        Assert.Equal(Errno.ESRCH, channels.AllocUnbound(2, 1, out _));
    }

    [Fact]
    public void Reset_closes_every_port_of_the_domain_and_leaves_it_able_to_bind_again()
    {
        var (channels, _) = Machine();
        channels.AllocUnbound(1, 2, out int back);
        channels.BindInterdomain(2, 1, back, out int front);
        channels.BindIpi(2, out int ipi);
        Assert.True(channels.Reset(2));
        Assert.Equal(PortState.Closed, channels.StateOf(2, front));
        Assert.Equal(PortState.Closed, channels.StateOf(2, ipi));
        Assert.Equal(PortState.Unbound, channels.StateOf(1, back));
        Assert.Equal(0, channels.BindIpi(2, out int again));
        Assert.Equal(1, again);
    }

    [FsCheck.Xunit.Property(MaxTest = 300)]
    public Property Random_operations_keep_every_interdomain_pair_symmetric_and_never_touch_a_third_domains_page() =>
        Prop.ForAll(Gen.ArrayOf(Gen.Choose(0, 1_000_000)).ToArbitrary(), (int[] steps) =>
        {
            var (channels, delivery) = Machine(4);
            foreach (int step in steps)
            {
                ushort a = (ushort)(step % 3), b = (ushort)(step / 3 % 3);
                int port = step / 9 % 8;
                switch (step / 72 % 6)
                {
                    case 0: channels.AllocUnbound(a, b, out _); break;
                    case 1: channels.BindInterdomain(a, b, port, out _); break;
                    case 2: channels.Send(a, port); break;
                    case 3: channels.Close(a, port); break;
                    case 4: channels.Unmask(a, port); break;
                    default: channels.BindIpi(a, out _); break;
                }
            }
            for (ushort d = 0; d < 3; d++)
            {
                for (int p = 1; p < 16; p++)
                {
                    if (channels.StateOf(d, p) != PortState.Interdomain) continue;
                    if (!channels.TryGetPeer(d, p, out ushort rd, out int rp)) return false;
                    if (channels.StateOf(rd, rp) != PortState.Interdomain || !channels.TryGetPeer(rd, rp, out ushort back, out int backPort) || back != d || backPort != p) return false;
                }
            }
            // Domain 3 takes no part: its page stays untouched.
            return delivery.Pages[3].All(x => x == 0) && delivery.Kicks.All(k => k.Domain < 3);
        });
}

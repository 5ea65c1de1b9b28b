using FsCheck;
using FsCheck.Fluent;
using Keel.Ringlib.Protocols;
using Xunit;

namespace Keel.Ringlib.Tests;

public class XenbusHandshakeTests
{
    private static XenbusState Backend(XenbusState be, XenbusState fe, out XenbusStep step)
    {
        step = XenbusHandshake.BackendStep(be, fe, out XenbusState next);
        return next;
    }

    [Fact]
    public void The_usual_walk_connects_both_ends_once_each()
    {
        // Back-end at InitWait, front-end Initialised: the back-end connects.
        Assert.Equal(XenbusState.Connected, Backend(XenbusState.InitWait, XenbusState.Initialised, out XenbusStep step));
        Assert.Equal(XenbusStep.Connect, step);
        // The front-end then sees Connected and connects too.
        Assert.Equal(XenbusStep.Connect, XenbusHandshake.FrontendStep(XenbusState.Initialised, XenbusState.Connected, out XenbusState fe));
        Assert.Equal(XenbusState.Connected, fe);
        // The back-end's watch fires again for the front-end's Connected: nothing more to do.
        Backend(XenbusState.Connected, XenbusState.Connected, out step);
        Assert.Equal(XenbusStep.None, step);
    }

    [Fact]
    public void A_front_end_that_skips_initialised_and_writes_connected_is_connected_all_the_same()
    {
        Assert.Equal(XenbusState.Connected, Backend(XenbusState.InitWait, XenbusState.Connected, out XenbusStep step));
        Assert.Equal(XenbusStep.Connect, step);
    }

    [Fact]
    public void A_front_end_going_back_to_initialising_while_connected_is_ignored_until_it_closes()
    {
        Backend(XenbusState.Connected, XenbusState.Initialising, out XenbusStep step);
        Assert.Equal(XenbusStep.None, step);
        Assert.Equal(XenbusState.Closing, Backend(XenbusState.Connected, XenbusState.Closing, out step));
        Assert.Equal(XenbusStep.Disconnect, step);
        Assert.Equal(XenbusState.Closed, Backend(XenbusState.Closing, XenbusState.Closed, out step));
        Assert.Equal(XenbusStep.Disconnect, step);
        // And it may start over: the device is offered again.
        Assert.Equal(XenbusState.InitWait, Backend(XenbusState.Closed, XenbusState.Initialising, out step));
        Assert.Equal(XenbusStep.Reopen, step);
    }

    [Fact]
    public void A_front_end_whose_node_vanished_or_holds_nonsense_is_disconnected()
    {
        Assert.Equal(XenbusState.Closed, Backend(XenbusState.Connected, XenbusState.Unknown, out XenbusStep step));
        Assert.Equal(XenbusStep.Disconnect, step);
        Assert.Equal(XenbusState.Closed, Backend(XenbusState.InitWait, (XenbusState)99, out step));
        Assert.Equal(XenbusStep.Disconnect, step);
        Backend(XenbusState.Closed, XenbusState.Unknown, out step);
        Assert.Equal(XenbusStep.None, step);
    }

    [Fact]
    public void A_front_end_keeps_its_device_when_the_back_end_goes_and_publishes_a_new_ring_for_the_next_one()
    {
        foreach (XenbusState gone in new[] { XenbusState.Closing, XenbusState.Closed, XenbusState.Unknown, (XenbusState)42 })
        {
            Assert.Equal(XenbusStep.Disconnect, XenbusHandshake.FrontendStep(XenbusState.Connected, gone, out XenbusState fe));
            Assert.Equal(XenbusState.Initialising, fe);
        }
        Assert.Equal(XenbusStep.PublishRing, XenbusHandshake.FrontendStep(XenbusState.Initialising, XenbusState.InitWait, out XenbusState next));
        Assert.Equal(XenbusState.Initialised, next);
        // A back-end still at Initialising (the toolstack's value) is waited for.
        Assert.Equal(XenbusStep.None, XenbusHandshake.FrontendStep(XenbusState.Initialising, XenbusState.Initialising, out _));
    }

    [FsCheck.Xunit.Property(MaxTest = 500)]
    public Property Whatever_the_front_end_writes_the_back_end_publishes_only_states_of_io_xenbus_h_and_connects_only_from_initwait()
    {
        var states = Gen.Choose(0, 12).Select(v => (XenbusState)v).ArrayOf().ToArbitrary();
        return Prop.ForAll(states, frontend =>
        {
            XenbusState be = XenbusState.InitWait;
            foreach (XenbusState fe in frontend)
            {
                XenbusState before = be;
                XenbusStep step = XenbusHandshake.BackendStep(be, fe, out be);
                if (step == XenbusStep.Connect && before != XenbusState.InitWait) return false;
                if (be != XenbusState.InitWait && be != XenbusState.Connected && be != XenbusState.Closing && be != XenbusState.Closed) return false;
            }
            return true;
        });
    }
}

namespace Keel.Ringlib.Protocols;

/// <summary>What an end of a split device does next when its peer's state changes.</summary>
public enum XenbusStep : byte
{
    /// <summary>Nothing: the change needs no answer in this end's state.</summary>
    None,

    /// <summary>Back-end: map the front-end's rings and bind its event channel; Connected on success, Closing on failure.
    /// Front-end: read the back-end's features (sectors, info) and go Connected.</summary>
    Connect,

    /// <summary>Front-end: grant a fresh ring, allocate a port, publish ring-ref and event-channel, go Initialised,
    /// and issue again every request the last back-end never answered.</summary>
    PublishRing,

    /// <summary>Let go of the peer's ring and port (back-end: unmap; front-end: end the grants, keep the
    /// unanswered requests) and take the state given.</summary>
    Disconnect,

    /// <summary>Back-end: the front-end starts over after a close: publish InitWait again.</summary>
    Reopen,
}

/// <summary>
/// The XenBus handshake of io/xenbus.h as pure functions of the two states, so each end tolerates every path
/// the other may take (states skipped, repeated, or going backwards) and the rules are tested pair by pair.
/// The back-end follows Linux's xen-blkback frontend_changed; the front-end follows blkfront's
/// backend_changed, except that a back-end that closes or disappears does not end the device: the front-end
/// keeps what it has in flight and waits for a back-end to reach InitWait again (a restarted or upgraded
/// driver domain), as ARCHITECTURE.md's restartable driver domains need.
/// </summary>
public static class XenbusHandshake
{
    /// <summary>
    /// The back-end's answer to the front-end's state (a value read from the store: anything, or Unknown when
    /// the node is gone). <paramref name="next"/> is the state to publish once the step is done (for
    /// Connect, the state on success).
    /// </summary>
    public static XenbusStep BackendStep(XenbusState backend, XenbusState frontend, out XenbusState next)
    {
        next = backend;
        switch (frontend)
        {
            case XenbusState.Initialising:
                // A front-end that closed and starts again: offer the device anew.
                if (backend != XenbusState.Closed) return XenbusStep.None;
                next = XenbusState.InitWait;
                return XenbusStep.Reopen;
            case XenbusState.Initialised:
            case XenbusState.Connected:
                // Two watch events in a row must not connect twice; a back-end closing waits for the front-end to close too.
                if (backend != XenbusState.InitWait) return XenbusStep.None;
                next = XenbusState.Connected;
                return XenbusStep.Connect;
            case XenbusState.Closing:
                if (backend == XenbusState.Closing || backend == XenbusState.Closed) return XenbusStep.None;
                next = XenbusState.Closing;
                return XenbusStep.Disconnect;
            case XenbusState.InitWait:
            case XenbusState.Reconfiguring:
            case XenbusState.Reconfigured:
                return XenbusStep.None;
            default:
                // Closed, Unknown (the node is gone: the front-end's domain ended) or a value outside io/xenbus.h.
                if (backend == XenbusState.Closed) return XenbusStep.None;
                next = XenbusState.Closed;
                return XenbusStep.Disconnect;
        }
    }

    /// <summary>The front-end's answer to the back-end's state (Unknown when its node is gone: its domain ended).</summary>
    public static XenbusStep FrontendStep(XenbusState frontend, XenbusState backend, out XenbusState next)
    {
        next = frontend;
        switch (backend)
        {
            case XenbusState.InitWait:
                if (frontend != XenbusState.Initialising && frontend != XenbusState.Closed) return XenbusStep.None;
                next = XenbusState.Initialised;
                return XenbusStep.PublishRing;
            case XenbusState.Connected:
                if (frontend != XenbusState.Initialised) return XenbusStep.None;
                next = XenbusState.Connected;
                return XenbusStep.Connect;
            case XenbusState.Initialising:
            case XenbusState.Initialised:
            case XenbusState.Reconfiguring:
            case XenbusState.Reconfigured:
                return XenbusStep.None;
            default:
                // Closing, Closed, Unknown or nonsense: this back-end is gone; wait for the next one's InitWait.
                if (frontend == XenbusState.Initialising) return XenbusStep.None;
                next = XenbusState.Initialising;
                return XenbusStep.Disconnect;
        }
    }
}

namespace Keel.Ringlib.Protocols;

/// <summary>
/// The connection state each end of a split device publishes in its "state" store key (Xen io/xenbus.h).
/// The usual walk: the back-end publishes its features and goes InitWait; the front-end sets up its rings,
/// publishes ring-ref and event-channel and goes Initialised; the back-end maps them and goes Connected;
/// the front-end goes Connected. Either side may skip states, so a driver must tolerate every path, and a
/// state read from the store is the peer's claim, not a fact (it can go backwards, or be any number).
/// </summary>
public enum XenbusState : uint
{
    Unknown = 0,
    Initialising = 1,

    /// <summary>Early initialisation done; waiting for information from the peer or the toolstack.</summary>
    InitWait = 2,

    /// <summary>Waiting for the peer to connect.</summary>
    Initialised = 3,
    Connected = 4,

    /// <summary>Being closed, after an error or an unplug.</summary>
    Closing = 5,
    Closed = 6,
    Reconfiguring = 7,
    Reconfigured = 8,
}

namespace Keel.Blkback.Core;

/// <summary>Wakes the front-end: the domain sends on the ring's event channel (EVTCHNOP_send).</summary>
public abstract class Notifier
{
    /// <summary>Signals the front-end that responses were published.</summary>
    public abstract void Notify();
}

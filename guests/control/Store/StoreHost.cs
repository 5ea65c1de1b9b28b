using Keel.Ringlib.Protocols;

namespace Keel.Guests.Control.Store;

/// <summary>
/// What the store needs from the control domain about other domains: their pages, their channels, whether
/// they exist. Each call is made from the store's single thread and must not call back into the store.
/// (An abstract class, not interfaces: a freestanding image dispatches virtual calls but not interface calls.)
/// </summary>
public abstract unsafe class StoreHost
{
    /// <summary>INTRODUCE: maps the domain's store page (the frame <paramref name="mfn"/>, or grant 1,
    /// GNTTAB_RESERVED_XENSTORE) and binds an interdomain channel to its unbound <paramref name="port"/>.
    /// Returns the mapped page, or null when either step failed (the store then answers EINVAL). The page
    /// stays mapped until <see cref="Disconnect"/>.</summary>
    public abstract StoreRingPage* Connect(uint domid, ulong mfn, uint port);

    /// <summary>RELEASE or a second INTRODUCE: unbinds the channel and unmaps the page Connect returned.</summary>
    public abstract void Disconnect(uint domid);

    /// <summary>True when the domain exists (xenstored asks the hypervisor the same, domain.c
    /// domain_alloc_permrefs): permission entries for other domains are kept but ignored.</summary>
    public abstract bool Exists(uint domid);

    /// <summary>Kicks the domain's store event channel (EVTCHNOP_send on the port bound at INTRODUCE); the
    /// store calls it after it wrote replies or consumed requests.</summary>
    public abstract void Notify(uint domid);
}

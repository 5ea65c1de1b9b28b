using Keel.Ringlib.Protocols;

namespace Keel.Guests.Control.Store;

/// <summary>Kicks a domain's store event channel. The control domain implements it with EVTCHNOP_send on
/// the port it bound at INTRODUCE; the store calls it after it wrote replies or consumed requests.</summary>
public interface IStoreNotifier
{
    void Notify(uint domid);
}

/// <summary>
/// What the store needs from the control domain about other domains. Each call is made from the store's
/// single thread and must not call back into the store.
/// </summary>
public unsafe interface IStoreDomains
{
    /// <summary>INTRODUCE: maps the domain's store page (the frame <paramref name="mfn"/>, or grant 1,
    /// GNTTAB_RESERVED_XENSTORE) and binds an interdomain channel to its unbound <paramref name="port"/>.
    /// Returns the mapped page, or null when either step failed (the store then answers EINVAL). The page
    /// stays mapped until <see cref="Disconnect"/>.</summary>
    StoreRingPage* Connect(uint domid, ulong mfn, uint port);

    /// <summary>RELEASE or a second INTRODUCE: unbinds the channel and unmaps the page Connect returned.</summary>
    void Disconnect(uint domid);

    /// <summary>True when the domain exists (xenstored asks the hypervisor the same, domain.c
    /// domain_alloc_permrefs): permission entries for other domains are kept but ignored.</summary>
    bool Exists(uint domid);
}

using System;
using Keel.Ringlib.Protocols;

namespace Keel.Guests.Control.Store;

// Domain management (docs/misc/xenstore.txt "Domain management and xenstored communications").
public sealed unsafe partial class StoreServer
{
    /// <summary>DOMID_SELF (xen.h): IS_DOMAIN_INTRODUCED answers T for it.</summary>
    private const uint DomidSelf = 0x7FF0;

    /// <summary>GET_DOMAIN_PATH &lt;domid&gt;| answers /local/domain/&lt;domid&gt;|, for any domain id.</summary>
    private StoreError DoGetDomainPath(ReadOnlySpan<byte> payload)
    {
        if (!StorePath.OneArgument(payload, out ReadOnlySpan<byte> text) || !DecimalText.TryParseDomain(text, out uint domid))
        {
            return StoreError.EINVAL;
        }

        int length = StorePath.DomainPath(domid, _reply);
        _reply[length++] = 0;
        _replyLength = length;
        return StoreError.None;
    }

    /// <summary>INTRODUCE &lt;domid&gt;|&lt;mfn&gt;|&lt;port&gt;|: privileged only (checked by Dispatch).</summary>
    private StoreError DoIntroduce(ReadOnlySpan<byte> payload)
    {
        if (StorePath.CountStrings(payload) < 3)
        {
            return StoreError.EINVAL;
        }

        ReadOnlySpan<byte> domidText = StorePath.StringAt(payload, 0, out int next);
        ReadOnlySpan<byte> mfnText = StorePath.StringAt(payload, next, out next);
        ReadOnlySpan<byte> portText = StorePath.StringAt(payload, next, out _);
        if (!DecimalText.TryParseDomain(domidText, out uint domid) || !DecimalText.TryParse(mfnText, ulong.MaxValue, out ulong mfn)
            || !DecimalText.TryParse(portText, uint.MaxValue, out ulong port) || port == 0)
        {
            return StoreError.EINVAL;
        }

        StoreError error = IntroduceDomain(domid, mfn, (uint)port);
        if (error == StoreError.None)
        {
            ReplyOk();
        }

        return error;
    }

    /// <summary>
    /// Starts serving a domain over its store page (domain.c introduce_domain): StoreHost maps the page
    /// and binds the channel, the ring starts empty (domain_conn_reset) and @introduceDomain fires. A second
    /// INTRODUCE of a domain resets its connection (watches, transactions, queued output) and binds again.
    /// EINVAL for the privileged domain, a domain with an in-process connection, or when mapping fails;
    /// ENOMEM when no connection or account is free.
    /// </summary>
    public StoreError IntroduceDomain(uint domid, ulong mfn, uint port)
    {
        if (domid == _privileged || domid > 65535)
        {
            return StoreError.EINVAL;
        }

        int index = FindConnection(domid);
        bool again = index >= 0;
        if (again)
        {
            if (_connections[index].State == StoreConnectionState.Local)
            {
                return StoreError.EINVAL;
            }

            DropWatches(index);
            DropTransactions(index);
            _domains.Disconnect(domid);
            _connections[index].State = StoreConnectionState.None;
        }
        else
        {
            if (EnsureAccount(domid) < 0)
            {
                return StoreError.ENOMEM;
            }

            index = FreeConnection();
            if (index < 0)
            {
                return StoreError.ENOMEM;
            }
        }

        StoreRingPage* page = _domains.Connect(domid, mfn, port);
        if (page == null)
        {
            return StoreError.EINVAL;
        }

        _connections[index].Reset(domid, StoreConnectionState.Ring, page);
        // Sound: StoreHost hands back a mapped page of at least sizeof(StoreRingPage) bytes that stays
        // mapped until Disconnect. The guest may write these words at any time; every later read of them
        // goes through StoreByteRing, which checks them.
        page->RequestConsumer = 0;
        page->RequestProducer = 0;
        page->ResponseConsumer = 0;
        page->ResponseProducer = 0;
        page->ServerFeatures = 0;
        if (page->Connection == Keel.Ringlib.Protocols.Store.Reconnect)
        {
            page->Connection = Keel.Ringlib.Protocols.Store.Connected;
        }

        _notifier.Notify(domid);
        if (!again)
        {
            FireSpecial(IntroduceNode);
        }

        return StoreError.None;
    }

    /// <summary>RELEASE &lt;domid&gt;|.</summary>
    private StoreError DoRelease(ReadOnlySpan<byte> payload)
    {
        if (!StorePath.OneArgument(payload, out ReadOnlySpan<byte> text) || !DecimalText.TryParseDomain(text, out uint domid))
        {
            return StoreError.EINVAL;
        }

        StoreError error = ReleaseDomain(domid);
        if (error == StoreError.None)
        {
            ReplyOk();
        }

        return error;
    }

    /// <summary>
    /// Stops serving a domain and forgets it (domain.c do_release, destroy_domain): its watches go first
    /// (so its own nodes' removal tells it nothing), then its transactions and connection; the nodes it owns
    /// are removed with their subtrees (firing others' watches), entries naming it are struck from every
    /// other node's permissions, and @releaseDomain fires. Also what the control domain calls when a
    /// domain it built is destroyed. EINVAL for the privileged domain, ENOENT for one not connected.
    /// </summary>
    public StoreError ReleaseDomain(uint domid)
    {
        if (domid == _privileged)
        {
            return StoreError.EINVAL;
        }

        int index = FindConnection(domid);
        if (index < 0)
        {
            return StoreError.ENOENT;
        }

        StoreConnection connection = _connections[index];
        DropWatches(index);
        DropTransactions(index);
        if (connection.Page != null)
        {
            _domains.Disconnect(domid);
        }

        connection.Reset(0, StoreConnectionState.None, null);
        RemoveDomainNodes(domid);
        int account = FindAccount(domid);
        if (account >= 0)
        {
            _accounts[account].ShutdownReported = false;
        }

        FireSpecial(ReleaseNode);
        return StoreError.None;
    }

    /// <summary>The domain has shut down (the control domain learns it from VIRQ_DOM_EXC): fires
    /// @releaseDomain once per shutdown, as domain.c do_check_domain does, until RESUME.</summary>
    public void DomainShutDown(uint domid)
    {
        int account = EnsureAccount(domid);
        if (account >= 0)
        {
            if (_accounts[account].ShutdownReported)
            {
                return;
            }

            _accounts[account].ShutdownReported = true;
        }

        FireSpecial(ReleaseNode);
        FlushAll();
    }

    /// <summary>RESUME &lt;domid&gt;|: @releaseDomain may fire again for the domain's next shutdown.</summary>
    private StoreError DoResume(ReadOnlySpan<byte> payload)
    {
        if (!StorePath.OneArgument(payload, out ReadOnlySpan<byte> text) || !DecimalText.TryParseDomain(text, out uint domid)
            || domid == _privileged)
        {
            return StoreError.EINVAL;
        }

        if (FindConnection(domid) < 0)
        {
            return StoreError.ENOENT;
        }

        int account = FindAccount(domid);
        if (account >= 0)
        {
            _accounts[account].ShutdownReported = false;
        }

        ReplyOk();
        return StoreError.None;
    }

    /// <summary>IS_DOMAIN_INTRODUCED &lt;domid&gt;| answers T| or F|.</summary>
    private StoreError DoIsDomainIntroduced(ReadOnlySpan<byte> payload)
    {
        if (!StorePath.OneArgument(payload, out ReadOnlySpan<byte> text) || !DecimalText.TryParseDomain(text, out uint domid))
        {
            return StoreError.EINVAL;
        }

        ReplyBytes(domid == DomidSelf || FindConnection(domid) >= 0 ? "T\0"u8 : "F\0"u8);
        return StoreError.None;
    }

    /// <summary>Removes what a departed domain owned and its entries in others' permissions (domain.c
    /// domain_tree_remove). Owned nodes go with their subtrees; the walk skips into nothing it removed.</summary>
    private void RemoveDomainNodes(uint domid)
    {
        int node = _nodes[Root].FirstChild;
        while (node >= 0)
        {
            if (_nodes[node].Owner == domid)
            {
                int next = NextSkippingChildren(node, Root);
                int length = BuildPath(node, _path);
                RemoveTree(node, true, new ReadOnlySpan<byte>(_path, 0, length));
                node = next;
                continue;
            }

            StrikeEntries(node, domid);
            node = NextInSubtree(node, Root);
        }

        StrikeEntries(IntroduceNode, domid);
        StrikeEntries(ReleaseNode, domid);
    }

    private int NextSkippingChildren(int node, int top)
    {
        while (node != top && _nodes[node].NextSibling < 0)
        {
            node = _nodes[node].Parent;
        }

        return node == top ? -1 : _nodes[node].NextSibling;
    }

    /// <summary>Drops the permission entries after the first that name <paramref name="domid"/>; the new
    /// list is never longer, so storing it after freeing the old one cannot fail.</summary>
    private void StrikeEntries(int node, uint domid)
    {
        ref NodeRecord record = ref _nodes[node];
        int count = record.Perms.Length / Permissions.EntryBytes;
        _arena.CopyTo(record.Perms, _permsA);
        int kept = 1;
        for (int i = 1; i < count; i++)
        {
            if (Permissions.Domain(_permsA, i) != domid)
            {
                Permissions.WriteEntry(_permsA, kept++, Permissions.Domain(_permsA, i), Permissions.Bits(_permsA, i));
            }
        }

        if (kept == count)
        {
            return;
        }

        ReleaseCharged(record.Owner, ref record.Perms);
        record.Perms = StoreCharged(record.Owner, new ReadOnlySpan<byte>(_permsA, 0, kept * Permissions.EntryBytes));
    }
}

namespace Keel.Guests.Control.Store;

/// <summary>
/// What the store may hold in all (its pools, allocated once at construction) and what one unprivileged
/// domain may take of it (quotas, as xenstored's tools/xenstored/domain.c names and sets them by default).
/// Running out of a pool answers the requester ENOSPC or ENOMEM; a quota answers ENOSPC (xenstored does
/// both); neither leaves anything half done. The privileged domain is exempt from quotas, not from pools.
/// </summary>
public struct StoreLimits
{
    /// <summary>Node records, including the root and the two special nodes.</summary>
    public int Nodes;

    /// <summary>Bytes of names, values, permissions, watch paths and tokens and transaction paths, in
    /// <see cref="ByteArena.ChunkBytes"/>-byte chunks.</summary>
    public int ArenaBytes;

    /// <summary>Watch records.</summary>
    public int Watches;

    /// <summary>Open transactions.</summary>
    public int Transactions;

    /// <summary>Records of the nodes open transactions have looked at or changed.</summary>
    public int TransactionNodes;

    /// <summary>Domains the store keeps accounts for (connected, or owning nodes).</summary>
    public int Domains;

    /// <summary>Connections (one per domain; the privileged domain's own in-process one counts).</summary>
    public int Connections;

    /// <summary>Bytes of replies and watch events queued for one connection; at least twice the largest message.</summary>
    public int OutputBytes;

    /// <summary>Quota "nodes": nodes one domain may own.</summary>
    public int NodeQuota;

    /// <summary>Quota "watches".</summary>
    public int WatchQuota;

    /// <summary>Quota "transactions": transactions one domain may have open.</summary>
    public int TransactionQuota;

    /// <summary>Quota "transaction-nodes": nodes one transaction may look at or change.</summary>
    public int TransactionNodeQuota;

    /// <summary>Quota "node-permissions": entries in one SET_PERMS.</summary>
    public int PermissionQuota;

    /// <summary>Quota "node-size", applied to the value of a node (xenstored counts the whole record).</summary>
    public int ValueQuota;

    /// <summary>Quota "memory": arena bytes one domain's nodes, watches and transactions may occupy.</summary>
    public int MemoryQuota;

    /// <summary>Quota "path-max": bytes of a path after /local/domain/&lt;domid&gt;/ (XENSTORE_REL_PATH_MAX).</summary>
    public int RelativePathQuota;

    /// <summary>xenstored's quotas with pools for a small system: 64 domains, 16k nodes, 4 MiB of bytes.</summary>
    public static StoreLimits Default => new StoreLimits
    {
        Nodes = 16384,
        ArenaBytes = 4 << 20,
        Watches = 2048,
        Transactions = 256,
        TransactionNodes = 8192,
        Domains = 64,
        Connections = 64,
        OutputBytes = 16384,
        NodeQuota = 1000,
        WatchQuota = 128,
        TransactionQuota = 10,
        TransactionNodeQuota = 1024,
        PermissionQuota = 5,
        ValueQuota = 2048,
        MemoryQuota = 2560 * 1024,
        RelativePathQuota = Keel.Ringlib.Protocols.Store.RelativePathMax,
    };
}

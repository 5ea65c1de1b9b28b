using Keel.Ringlib.Protocols;

namespace Keel.Blkback.Core;

/// <summary>
/// Counters of one virtual block device, for the shell's stats command. Only the engine counts; each
/// counter only grows.
/// </summary>
public sealed class VbdStatistics
{
    private readonly ulong[] _refused = new ulong[RefusalKinds];

    /// <summary>Kinds of <see cref="BlkifRequestError"/> (its largest value is SegmentCountMismatch).</summary>
    private const int RefusalKinds = (int)BlkifRequestError.SegmentCountMismatch + 1;

    /// <summary>Requests taken off the ring.</summary>
    public ulong Requests { get; internal set; }

    /// <summary>Responses written onto the ring.</summary>
    public ulong Responses { get; internal set; }

    /// <summary>Accepted reads, writes and flushes; indirect requests count as their real operation too.</summary>
    public ulong Reads { get; internal set; }

    public ulong Writes { get; internal set; }

    public ulong Flushes { get; internal set; }

    public ulong IndirectRequests { get; internal set; }

    /// <summary>Requests submitted to the disk.</summary>
    public ulong DeviceRequests { get; internal set; }

    /// <summary>Ring requests that joined a device request an earlier ring request began.</summary>
    public ulong Merged { get; internal set; }

    /// <summary>Device requests beyond the first that a ring request with more segments than the disk takes needed.</summary>
    public ulong Split { get; internal set; }

    /// <summary>Submissions the disk refused for want of room, retried later.</summary>
    public ulong QueueFull { get; internal set; }

    public ulong BytesRead { get; internal set; }

    public ulong BytesWritten { get; internal set; }

    /// <summary>Requests refused because their id was already in flight.</summary>
    public ulong DuplicateIds { get; internal set; }

    /// <summary>Requests refused because a data grant would not map.</summary>
    public ulong GrantMapFailures { get; internal set; }

    /// <summary>Indirect requests refused because a page of segment descriptors would not map.</summary>
    public ulong IndirectPageFailures { get; internal set; }

    /// <summary>Requests the disk failed.</summary>
    public ulong DeviceErrors { get; internal set; }

    /// <summary>Completions the disk reported for no request in flight, ignored.</summary>
    public ulong StrayCompletions { get; internal set; }

    /// <summary>Data segments found mapped in the persistent grant cache.</summary>
    public ulong PersistentHits { get; internal set; }

    /// <summary>Data segments that had to be mapped although persistent grants were in use.</summary>
    public ulong PersistentMisses { get; internal set; }

    /// <summary>Persistent mappings dropped to make room for others.</summary>
    public ulong PersistentEvictions { get; internal set; }

    /// <summary>Requests the parser refused for <paramref name="error"/>.</summary>
    public ulong Refused(BlkifRequestError error) => (uint)error < RefusalKinds ? _refused[(int)error] : 0;

    /// <summary>Every request answered with an error or EOPNOTSUPP without reaching the disk, or failed by it.</summary>
    public ulong Errors
    {
        get
        {
            ulong total = DuplicateIds + GrantMapFailures + IndirectPageFailures + DeviceErrors;
            for (int i = 1; i < RefusalKinds; i++)
            {
                total += _refused[i];
            }

            return total;
        }
    }

    internal void CountRefusal(BlkifRequestError error)
    {
        if ((uint)error < RefusalKinds)
        {
            _refused[(int)error]++;
        }
    }
}

using System;
using Keel.Drivers.Virtio;
using Keel.Ringlib;
using Keel.Ringlib.Protocols;

namespace Keel.Blkback.Core;

/// <summary>
/// The request engine of one connected virtual block device: it turns a front-end's blkif ring into
/// requests to the disk under the extent, and their completions back into responses. It makes no
/// hypercall (grants, the disk and the event channel are reached through the abstract classes it is given),
/// so it runs unchanged on the host under test and in the driver domain.
///
/// Use: <see cref="TryCreate"/> when the front-end connects; on every wake-up (the ring's event or the
/// disk's interrupt) call <see cref="ProcessCompletions"/> and <see cref="ProcessRing"/>; when the
/// front-end closes or dies, <see cref="Disconnect"/>, then <see cref="ProcessCompletions"/> on each disk
/// interrupt until <see cref="InFlight"/> is 0. Not thread-safe; nothing allocates after construction.
///
/// Trust: every slot is copied out once and parsed before anything is touched (io/ring.h
/// RING_COPY_REQUEST, XSA-155); a refused request is answered without reaching the disk; a producer index
/// that overruns the ring cuts the front-end off (xen-blkback: "Frontend provided bogus ring requests"),
/// and the engine never waits on the front-end.
/// </summary>
public sealed partial class VirtualBlockDevice
{
    private readonly ushort _frontend;
    private readonly VbdExtent _extent;
    private readonly BlkifDeviceLimits _limits;
    private readonly BlockDevice _disk;
    private readonly Notifier _notifier;
    private readonly SegmentMapper _mapper;
    private readonly PendingRequest[] _pending;    // one per ring slot: at most that many are unanswered
    private readonly IndexFifo _freePending;
    private readonly IndexMap _idsInFlight;        // front-end id -> pending request
    private readonly DeviceQueue _queue;
    private readonly BlockCompletion[] _completions;
    private readonly int[] _taken;                 // requests this ring pass took, their pages not yet mapped
    private readonly bool[] _takenMapped;
    private int _takenCount;
    private readonly int[] _finished;              // requests done, to be unmapped together and answered
    private int _finishedCount;
    private BackRing<BlkifRequest, BlkifResponse> _ring;
    private bool _disconnected;
    private bool _released;                        // persistent mappings unmapped after disconnect

    private VirtualBlockDevice(ushort frontend, in VbdExtent extent, in VbdFeatures features, BackRing<BlkifRequest, BlkifResponse> ring, GrantMapper grants, Notifier notifier)
    {
        _frontend = frontend;
        _extent = extent;
        _limits = features.LimitsFor(extent);
        _disk = extent.Disk;
        _notifier = notifier;
        _ring = ring;
        Statistics = new VbdStatistics();
        Features = features;

        int slots = (int)ring.Size;
        int perRequest = features.MaxSegmentsPerRequest;
        PersistentGrantCache cache = features.PersistentGrants
            ? new PersistentGrantCache(grants, slots * Blkif.MaxSegmentsPerRequest + features.MaxIndirectSegments)
            : null;
        _mapper = new SegmentMapper(grants, frontend, cache, Statistics, perRequest);
        _pending = new PendingRequest[slots];
        for (int i = 0; i < slots; i++)
        {
            _pending[i] = new PendingRequest();
        }

        for (int i = 0; i < slots; i++)
        {
            _pending[i].ReserveSegments(perRequest);
        }

        _freePending = IndexFifo.Counting(slots);
        _taken = new int[slots];
        _takenMapped = new bool[slots];
        _finished = new int[slots];
        _idsInFlight = new IndexMap(slots);
        int depth = Smaller(_disk.QueueDepth, 2 * slots);
        _queue = new DeviceQueue(_disk, _pending, depth, Smaller(_disk.MaxSegments, perRequest), Statistics);
        _completions = new BlockCompletion[depth];
    }

    /// <summary>An engine for <paramref name="frontend"/>'s vbd over <paramref name="extent"/>, serving
    /// <paramref name="ring"/> (attached, e.g. by <see cref="BlkifRingPages.TryAttach"/>). False when the
    /// extent does not lie on its disk, the disk takes no request, or a part is missing.</summary>
    public static bool TryCreate(ushort frontend, in VbdExtent extent, in VbdFeatures features, BackRing<BlkifRequest, BlkifResponse> ring,
        GrantMapper grants, Notifier notifier, out VirtualBlockDevice device)
    {
        device = null;
        if (!extent.IsOnDisk || grants == null || notifier == null || ring.Size == 0
            || extent.Disk.MaxSegments < 1 || extent.Disk.QueueDepth < 1)
        {
            return false;
        }

        device = new VirtualBlockDevice(frontend, extent, features, ring, grants, notifier);
        return true;
    }

    public ushort Frontend => _frontend;

    public VbdExtent Extent => _extent;

    public VbdFeatures Features { get; }

    public VbdStatistics Statistics { get; }

    /// <summary>The front-end's producer index overran the ring or went backwards: no request is taken
    /// from it again. Log <see cref="CutOffReason"/> and disconnect it.</summary>
    public bool IsCutOff => _ring.Status != RingStatus.Ok;

    public RingStatus CutOffReason => _ring.Status;

    /// <summary><see cref="Disconnect"/> was called.</summary>
    public bool IsDisconnected => _disconnected;

    /// <summary>Requests on the disk: after <see cref="Disconnect"/>, keep calling
    /// <see cref="ProcessCompletions"/> until this is 0.</summary>
    public int InFlight => _queue.InFlight;

    /// <summary>Ring requests accepted and not yet answered (or, after disconnect, not yet dropped).</summary>
    public int Pending => _pending.Length - _freePending.Count;

    /// <summary>Data pages held mapped by the persistent grant cache.</summary>
    public int PersistentMappings => _mapper.PersistentCount;

    /// <summary>Takes every request the front-end has published, then submits what the disk will take with
    /// one kick, and publishes the answers to refused requests.</summary>
    public void ProcessRing()
    {
        if (_disconnected)
        {
            return;
        }

        // xen-blkback's do_block_io_op: consume until empty, then RING_FINAL_CHECK_FOR_REQUESTS, which asks
        // for an event on the next request and looks once more, so a request published meanwhile is not
        // left unseen until some later event.
        do
        {
            while (!_freePending.IsEmpty && _ring.TryTakeRequest(out BlkifRequest slot))
            {
                Take(in slot);
            }

            // Unanswered requests never outnumber the slots, so the pool only runs dry when every slot
            // holds one: nothing more may be taken until some are answered. The producer index is still
            // checked, so a front-end that publishes into slots awaiting answers is cut off now.
            if (_freePending.IsEmpty)
            {
                _ring.UnconsumedRequests();
                break;
            }
        }
        while (_ring.FinalCheckForRequests());

        MapTaken();
        SubmitAndKick();
        Publish();
    }

    /// <summary>Takes every completion from the disk and answers (or, after disconnect, drops) the ring
    /// requests that are finished; then takes what waited on the ring for a free entry and submits whatever
    /// was waiting for room on the disk.</summary>
    public void ProcessCompletions()
    {
        // The reap buffer holds every device request that can be in flight, so one round normally empties
        // the disk; a second catches completions that arrived meanwhile, and a disk that keeps reporting
        // more than it was given is not followed further.
        for (int round = 0; round < 2; round++)
        {
            int count = _disk.Reap(_completions);
            for (int i = 0; i < count && i < _completions.Length; i++)
            {
                Complete(_completions[i]);
            }

            if (count < _completions.Length)
            {
                break;
            }
        }

        AnswerFinished();
        if (_disconnected)
        {
            ReleaseWhenIdle();
            return;
        }

        // Requests left on the ring when every entry was in use (ProcessRing stops taking then) are taken now
        // that answers freed some: the front-end sent its notification for them already and sends no other
        // (xen-blkback wakes its thread when a pending_req is freed, for the same reason).
        ProcessRing();
    }

    /// <summary>The front-end is closing or gone: no request is taken or answered any more and the ring
    /// and event channel are not touched again (the caller may unmap the ring at once). What never reached
    /// the disk is dropped and unmapped now; what is on the disk is dropped as it completes, and the
    /// persistent mappings are unmapped when <see cref="InFlight"/> reaches 0. The front-end re-issues
    /// what was never answered when it reconnects.</summary>
    public void Disconnect()
    {
        if (_disconnected)
        {
            return;
        }

        _disconnected = true;
        _queue.Abandon();
        for (int i = 0; i < _pending.Length; i++)
        {
            if (_pending[i].InUse)
            {
                Finish(i);
            }
        }

        AnswerFinished();
        ReleaseWhenIdle();
    }

    /// <summary>
    /// Serves the same front-end's next ring after a disconnect (it reconnected to this back-end), reusing
    /// everything this engine allocated, so a front-end that connects and disconnects over and over costs the
    /// back-end no memory (there is no collector). False while the disk still holds requests of the old
    /// ring, or if the new ring has another number of slots than the one the engine was made for.
    /// </summary>
    public bool TryReattach(BackRing<BlkifRequest, BlkifResponse> ring)
    {
        if (!_disconnected || InFlight != 0 || Pending != 0 || ring.Size != (uint)_pending.Length)
        {
            return false;
        }

        _ring = ring;
        _disconnected = false;
        _released = false;
        return true;
    }

    private void SubmitAndKick()
    {
        if (_queue.Submit())
        {
            _disk.Kick();
        }
    }

    private void Complete(BlockCompletion completion)
    {
        DeviceRequest request = _queue.TakeCompleted(completion.Token);
        if (request == null)
        {
            Statistics.StrayCompletions++;
            return;
        }

        for (int i = 0; i < request.PartCount; i++)
        {
            int index = request.Part(i);
            _pending[index].PartCompleted(completion.Status);
            Finish(index);
        }
    }

    /// <summary>Sets pending request <paramref name="index"/> aside to be answered (<see cref="AnswerFinished"/>)
    /// once every part of it has completed; a flush that carried data goes back to the queue for its flush first.</summary>
    private void Finish(int index)
    {
        PendingRequest request = _pending[index];
        if (!request.IsDone || request.SetAside)
        {
            return;
        }

        if (request.FlushAfterWrite && request.Status == BlockStatus.Ok && !_disconnected)
        {
            request.StartFlushPhase();
            _queue.Enqueue(index);
            return;
        }

        request.SetAside = true;
        _finished[_finishedCount++] = index;
    }

    /// <summary>Gives back the finished requests' mappings, in as few calls as the mapper can, and only then
    /// answers them (xen-blkback unmaps before make_response, so a front-end never ends a grant still mapped).</summary>
    private void AnswerFinished()
    {
        if (_finishedCount == 0)
        {
            return;
        }

        _mapper.Unmap(new ReadOnlySpan<int>(_finished, 0, _finishedCount), _pending);
        for (int i = 0; i < _finishedCount; i++)
        {
            PendingRequest request = _pending[_finished[i]];
            if (!_disconnected)
            {
                CountCompleted(request);
                Respond(request.Id, request.ResponseOperation, request.ResponseStatus);
            }

            Free(_finished[i]);
        }

        _finishedCount = 0;
    }

    /// <summary>Pending request <paramref name="index"/>, whose id is in flight, is answered or dropped: its id
    /// and its slot are free again.</summary>
    private void Free(int index)
    {
        _idsInFlight.Remove(_pending[index].Id);
        _pending[index].InUse = false;
        _freePending.TryPush(index);
    }

    private void CountCompleted(PendingRequest request)
    {
        if (request.Status != BlockStatus.Ok)
        {
            Statistics.DeviceErrors++;
        }
        else if (request.ResponseOperation == (byte)BlkifOperation.Read)
        {
            Statistics.BytesRead += request.Bytes;
        }
        else
        {
            Statistics.BytesWritten += request.Bytes;
        }
    }

    private void ReleaseWhenIdle()
    {
        if (!_released && _queue.InFlight == 0)
        {
            _mapper.UnmapPersistent();
            _released = true;
        }
    }

    private void Respond(ulong id, byte operation, BlkifStatus status)
    {
        BlkifResponse response = default;
        response.Id = id;
        response.Operation = operation;
        response.Status = (short)status;
        // Always room: a response goes into the slot of a request already copied out, and every pending
        // request holds one such slot until it is answered.
        if (_ring.TryWriteResponse(in response))
        {
            Statistics.Responses++;
        }
    }

    /// <summary>Publishes the responses written and sends an event when the front-end asked for one
    /// (io/ring.h: RING_PUSH_RESPONSES_AND_CHECK_NOTIFY, as xen-blkback's make_response).</summary>
    private void Publish()
    {
        if (_ring.PushResponsesAndCheckNotify())
        {
            _notifier.Notify();
        }
    }

    private static int Smaller(int a, int b) => a < b ? a : b;
}

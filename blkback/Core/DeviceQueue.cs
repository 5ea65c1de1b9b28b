using Keel.Drivers.Virtio;

namespace Keel.Blkback.Core;

/// <summary>
/// Accepted ring requests on their way to the disk, in the order they were taken: merged into device
/// requests where they follow each other on the disk, split where one has more segments than the disk
/// takes, and held back in order while the disk's queue is full. A device request built but refused by a
/// full queue is kept as it is and offered again first, so nothing overtakes it.
/// </summary>
internal sealed class DeviceQueue
{
    private readonly BlockDevice _disk;
    private readonly PendingRequest[] _pending;
    private readonly DeviceRequest[] _requests;   // indexed by the token the disk completes them with
    private readonly IndexFifo _free;             // device requests not in use
    private readonly IndexFifo _waiting;          // pending requests with segments (or a flush) not yet placed
    private readonly VbdStatistics _stats;
    private int _staged = -1;                     // built, refused by the disk, to be offered again first
    private int _placed;                          // segments of the oldest waiting request already placed
    private ulong _placedSectors;                 // the sectors those segments cover

    public DeviceQueue(BlockDevice disk, PendingRequest[] pending, int depth, int maxSegments, VbdStatistics stats)
    {
        _disk = disk;
        _pending = pending;
        _stats = stats;
        _requests = new DeviceRequest[depth];
        for (int i = 0; i < depth; i++)
        {
            _requests[i] = new DeviceRequest(maxSegments);
        }

        for (int i = 0; i < depth; i++)
        {
            _requests[i].ReserveSegments();
        }

        _free = IndexFifo.Counting(depth);
        _waiting = new IndexFifo(pending.Length);
    }

    /// <summary>Device requests submitted and not completed.</summary>
    public int InFlight { get; private set; }

    /// <summary>Queues pending request <paramref name="index"/> behind every one queued before.</summary>
    public bool Enqueue(int index) => _waiting.TryPush(index);

    /// <summary>Submits everything the disk will take; true when anything was submitted (then kick).</summary>
    public bool Submit()
    {
        bool submitted = false;
        while (true)
        {
            if (_staged < 0)
            {
                if (_waiting.IsEmpty || _free.IsEmpty)
                {
                    break;
                }

                _staged = _free.Pop();
                Build(_requests[_staged]);
            }

            DeviceRequest request = _requests[_staged];
            if (!_disk.TrySubmit(request.Operation, request.Sector, request.Segments, (ulong)_staged))
            {
                _stats.QueueFull++;
                break;
            }

            request.InFlight = true;
            InFlight++;
            _stats.DeviceRequests++;
            _staged = -1;
            submitted = true;
        }

        return submitted;
    }

    /// <summary>The device request the disk completed with <paramref name="token"/>, now free again (its
    /// parts stay readable until the next <see cref="Submit"/>); null for a token not in flight.</summary>
    public DeviceRequest TakeCompleted(ulong token)
    {
        if (token >= (ulong)_requests.Length || !_requests[token].InFlight)
        {
            return null;
        }

        DeviceRequest request = _requests[token];
        request.InFlight = false;
        InFlight--;
        _free.TryPush((int)token);
        return request;
    }

    /// <summary>At disconnect: drops what never reached the disk. Every waiting request is marked placed and
    /// failed, and the staged device request gives back its parts, so each pending request is finished as
    /// soon as what it has on the disk completes.</summary>
    public void Abandon()
    {
        if (_staged >= 0)
        {
            DeviceRequest staged = _requests[_staged];
            for (int i = 0; i < staged.PartCount; i++)
            {
                _pending[staged.Part(i)].PartCompleted(BlockStatus.IoError);
            }

            _free.TryPush(_staged);
            _staged = -1;
        }

        while (!_waiting.IsEmpty)
        {
            PendingRequest request = _pending[_waiting.Pop()];
            request.FullyPlaced = true;
            request.Status = BlockStatus.IoError;
        }

        _placed = 0;
        _placedSectors = 0;
    }

    /// <summary>Fills <paramref name="request"/> from the oldest waiting request on: the rest of its segments
    /// (as many as fit), then whole following requests that continue it on the disk.</summary>
    private void Build(DeviceRequest request)
    {
        int index = _waiting.Peek();
        PendingRequest part = _pending[index];
        request.Begin(part.DeviceOperation, part.Sector + _placedSectors);
        if (_placed > 0)
        {
            _stats.Split++;
        }

        while (true)
        {
            request.AddPart(index);
            part.DeviceRequestsPending++;
            while (_placed < part.SegmentsToPlace && request.SegmentCount < request.MaxSegments)
            {
                _placedSectors += request.AddSegment(part.Mapped[_placed].BusAddress, part.Wire[_placed]);
                _placed++;
            }

            if (_placed < part.SegmentsToPlace)
            {
                return;   // the disk takes no more segments; the rest go in the next device request
            }

            _waiting.Pop();
            part.FullyPlaced = true;
            _placed = 0;
            _placedSectors = 0;
            index = _waiting.Peek();
            if (index < 0 || !Continues(request, _pending[index]))
            {
                return;
            }

            part = _pending[index];
            _stats.Merged++;
        }
    }

    /// <summary>Whether <paramref name="next"/> can join <paramref name="request"/> whole: the same data
    /// operation, starting where it ends on the disk, and all its segments fit.</summary>
    private static bool Continues(DeviceRequest request, PendingRequest next)
    {
        bool data = request.Operation == BlockOperation.Read || request.Operation == BlockOperation.Write;
        return data
            && next.DeviceOperation == request.Operation
            && next.Sector == request.Sector + request.Sectors
            && next.SegmentsToPlace > 0
            && request.SegmentCount + next.SegmentsToPlace <= request.MaxSegments
            && request.HasRoomForPart;
    }
}

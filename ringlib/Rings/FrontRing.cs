using System.Runtime.CompilerServices;

namespace Keel.Ringlib;

/// <summary>
/// The front-end's half of a shared ring: it writes requests and consumes responses (io/ring.h: the
/// FRONT_RING macros). A value of this type is the front-end's private state; it points at the shared region
/// but owns none of it. Keep it in one place (a field or a local) and do not copy it while in use.
/// The back-end is not trusted either: in a driver-domain system it is just another domain, so its
/// response producer index is checked like any other allegation.
/// </summary>
/// <typeparam name="TRequest">The request layout; with the response it shares the slot.</typeparam>
/// <typeparam name="TResponse">The response layout.</typeparam>
/// <typeparam name="TAccess">How shared indices are touched; <see cref="DirectAccess"/> outside tests.</typeparam>
public unsafe struct FrontRing<TRequest, TResponse, TAccess>
    where TRequest : unmanaged
    where TResponse : unmanaged
    where TAccess : struct, ISharedMemoryAccess
{
    private SharedRingHeader* _shared;   // the shared header; every value in it may change at any moment
    private byte* _slots;                // first slot, HeaderBytes after the header
    private uint _entryBytes;            // size of one slot
    private uint _size;                  // slot count, a power of two
    private uint _requestProducer;       // requests written, published or not (io/ring.h: req_prod_pvt)
    private uint _requestPublished;      // the req_prod value this side last stored
    private uint _requestChecked;        // req_prod as of the last notification check: the "old" of the next check
    private uint _responseConsumer;      // responses taken off the ring (io/ring.h: rsp_cons)
    private uint _responseSeen;          // the last rsp_prod value found believable; responses up to it may be taken
    private RingStatus _status;          // Ok until the back-end is caught lying

    /// <summary>Sets up a new ring over a region the caller owns and has not yet shown to the back-end:
    /// initialises the shared header (io/ring.h: SHARED_RING_INIT then FRONT_RING_INIT). Fails only when
    /// the region cannot hold a single slot.</summary>
    public static bool TryInitialize(void* region, uint regionBytes, out FrontRing<TRequest, TResponse, TAccess> ring)
    {
        if (!TryAttach(region, regionBytes, 0, out ring))
        {
            return false;
        }

        // Plain stores: the back-end cannot look at the region before it learns where it is, and whatever tells
        // it (a grant and a store write, each behind its own barriers) orders these stores before its first read.
        SharedRingHeader* header = ring._shared;
        header->RequestProducer = 0;
        header->ResponseProducer = 0;
        header->RequestEvent = 1;
        header->ResponseEvent = 1;
        byte* padding = (byte*)header + 16;
        for (int i = 0; i < (int)RingGeometry.HeaderBytes - 16; i++)
        {
            padding[i] = 0;
        }

        return true;
    }

    /// <summary>Attaches to an existing ring with both private counters at <paramref name="index"/>, leaving
    /// the shared header alone (io/ring.h: FRONT_RING_ATTACH). Index 0 on a freshly initialised header is
    /// what TryInitialize does.</summary>
    public static bool TryAttach(void* region, uint regionBytes, uint index, out FrontRing<TRequest, TResponse, TAccess> ring)
    {
        ring = default;
        uint entryBytes = RingGeometry.EntryBytes<TRequest, TResponse>();
        uint size = RingGeometry.EntryCount(regionBytes, entryBytes);
        if (region == null || size == 0)
        {
            return false;
        }

        ring._shared = (SharedRingHeader*)region;
        ring._slots = (byte*)region + RingGeometry.HeaderBytes;
        ring._entryBytes = entryBytes;
        ring._size = size;
        ring._requestProducer = index;
        ring._requestPublished = index;
        ring._requestChecked = index;
        ring._responseConsumer = index;
        ring._responseSeen = index;
        return true;
    }

    /// <summary>Re-attaches to a live ring at its current shared indices: requests already published stay in
    /// flight and their responses will be consumed; responses published before the attach are treated as
    /// consumed (the caller re-issues, from its own records, whatever was never answered). Fails when the
    /// shared indices are inconsistent (more requests in flight than the ring holds).</summary>
    public static bool TryAttachAtSharedIndices(void* region, uint regionBytes, out FrontRing<TRequest, TResponse, TAccess> ring)
    {
        if (!TryAttach(region, regionBytes, 0, out ring))
        {
            return false;
        }

        // Acquire on both: entries are read only after the indices that cover them.
        uint requestProducer = TAccess.Read(&ring._shared->RequestProducer);
        uint responseProducer = TAccess.Read(&ring._shared->ResponseProducer);
        if (requestProducer - responseProducer > ring._size)
        {
            ring = default;
            return false;
        }

        ring._requestProducer = requestProducer;
        ring._requestPublished = requestProducer;
        ring._requestChecked = requestProducer;
        ring._responseConsumer = responseProducer;
        ring._responseSeen = responseProducer;
        return true;
    }

    /// <summary>Slot count: a power of two.</summary>
    public readonly uint Size => _size;

    /// <summary>Ok, or why the back-end is no longer believed.</summary>
    public readonly RingStatus Status => _status;

    /// <summary>Requests written (published or not) whose responses have not been consumed.</summary>
    public readonly uint RequestsInFlight => _requestProducer - _responseConsumer;

    /// <summary>Slots free for new requests (io/ring.h: RING_FREE_REQUESTS).</summary>
    public readonly uint FreeRequests => _size - (_requestProducer - _responseConsumer);

    /// <summary>The private request producer (io/ring.h: req_prod_pvt).</summary>
    public readonly uint RequestProducer => _requestProducer;

    /// <summary>The private response consumer (io/ring.h: rsp_cons).</summary>
    public readonly uint ResponseConsumer => _responseConsumer;

    /// <summary>Writes a request into the next free slot without publishing it. Returns false when every
    /// slot holds a request in flight or an unconsumed response.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryWriteRequest(in TRequest request)
    {
        if (_requestProducer - _responseConsumer >= _size)
        {
            return false;
        }

        Unsafe.WriteUnaligned(Slot(_requestProducer), request);
        _requestProducer++;
        return true;
    }

    /// <summary>Publishes every written request without deciding about a notification
    /// (io/ring.h: RING_PUSH_REQUESTS). For a burst: publish as it goes, then end the burst with
    /// <see cref="PushRequestsAndCheckNotify"/>, whose check covers these requests too.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PushRequests()
    {
        // Release: the back-end sees the request entries before the req_prod that covers them.
        TAccess.Write(&_shared->RequestProducer, _requestProducer);
        _requestPublished = _requestProducer;
    }

    /// <summary>Publishes every written request and says whether the back-end must be notified
    /// (io/ring.h: RING_PUSH_REQUESTS_AND_CHECK_NOTIFY). True only when the back-end's req_event lies among
    /// the requests published since the previous check, that is, when it has announced that it is about to
    /// sleep. Unlike io/ring.h, whose "old" is the current req_prod, the range starts at the last check, so
    /// requests published by <see cref="PushRequests"/> in between are covered: io/ring.h would miss a
    /// back-end that armed its event for one of those (that push had no barrier, so its final check may not
    /// have seen it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool PushRequestsAndCheckNotify()
    {
        uint old = _requestChecked;
        uint published = _requestProducer;
        if (published == old)
        {
            return false;
        }

        // Release: the back-end sees the request entries before the req_prod that covers them.
        TAccess.Write(&_shared->RequestProducer, published);
        _requestPublished = published;
        _requestChecked = published;
        // Full barrier: the back-end must be able to see the new req_prod before we read req_event. It pairs
        // with the barrier in BackRing.FinalCheckForRequests (req_event store, then req_prod load): of the two
        // sides, at least one sees the other's store, so either the back-end finds these requests on its
        // final check or we find its new req_event here and notify.
        TAccess.FullBarrier();
        uint requestEvent = TAccess.Read(&_shared->RequestEvent);
        return published - requestEvent < published - old;
    }

    /// <summary>Responses published by the back-end and not yet taken, after checking its producer index
    /// (io/ring.h: RING_HAS_UNCONSUMED_RESPONSES, hardened). Returns 0 once the back-end is caught lying;
    /// <see cref="Status"/> then says how.</summary>
    public uint UnconsumedResponses()
    {
        if (_status != RingStatus.Ok)
        {
            return 0;
        }

        // Acquire: response entries are read only after the rsp_prod that covers them (io/ring.h: the
        // xen_rmb() a consumer issues after reading a producer index).
        uint producer = TAccess.Read(&_shared->ResponseProducer);
        uint unconsumed = producer - _responseConsumer;
        // A back-end can answer only requests that were published: more responses than that is an overflow.
        // A producer index behind rsp_cons also lands here, as a difference close to 2^32.
        if (unconsumed > _requestPublished - _responseConsumer)
        {
            return Fail(RingStatus.ProducerOverflow);
        }

        // A producer index behind the value already seen has moved backwards.
        if (unconsumed < _responseSeen - _responseConsumer)
        {
            return Fail(RingStatus.ProducerRegressed);
        }

        _responseSeen = producer;
        return unconsumed;
    }

    /// <summary>Copies the next response out of the ring. The copy is the only read of that slot: the caller
    /// checks and uses the copy, so the back-end cannot change it under the caller's feet (XSA-155). The
    /// compiler may load only the fields the caller uses, but the .NET memory model forbids it to introduce
    /// reads, so no field is fetched from the slot twice.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryTakeResponse(out TResponse response)
    {
        if (_responseConsumer == _responseSeen && UnconsumedResponses() == 0)
        {
            response = default;
            return false;
        }

        response = Unsafe.ReadUnaligned<TResponse>(Slot(_responseConsumer));
        _responseConsumer++;
        return true;
    }

    /// <summary>Called when no response is left, before sleeping (io/ring.h: RING_FINAL_CHECK_FOR_RESPONSES).
    /// Asks for a notification on the very next response, then looks once more. True means responses
    /// arrived: do not sleep. False means the back-end is now bound to notify for its next response, or the
    /// ring has failed (see <see cref="Status"/>).</summary>
    public bool FinalCheckForResponses()
    {
        if (_responseConsumer != _responseSeen || UnconsumedResponses() != 0)
        {
            return true;
        }

        if (_status != RingStatus.Ok)
        {
            return false;
        }

        TAccess.Write(&_shared->ResponseEvent, _responseConsumer + 1);
        // Full barrier: the back-end must be able to see the new rsp_event before we read rsp_prod again. It
        // pairs with the barrier in BackRing.PushResponsesAndCheckNotify (rsp_prod store, then rsp_event load):
        // either we see its new responses now, or it sees our rsp_event and notifies.
        TAccess.FullBarrier();
        return UnconsumedResponses() != 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly byte* Slot(uint index) => _slots + (nuint)((index & (_size - 1)) * _entryBytes);

    private uint Fail(RingStatus status)
    {
        _status = status;
        _responseSeen = _responseConsumer;
        return 0;
    }
}

/// <summary>
/// A front ring with the production memory access: what front-end drivers use. Every member forwards to
/// <see cref="FrontRing{TRequest, TResponse, TAccess}"/>; see there for the contracts.
/// </summary>
public unsafe struct FrontRing<TRequest, TResponse>
    where TRequest : unmanaged
    where TResponse : unmanaged
{
    private FrontRing<TRequest, TResponse, DirectAccess> _ring;

    public static bool TryInitialize(void* region, uint regionBytes, out FrontRing<TRequest, TResponse> ring)
    {
        ring = default;
        return FrontRing<TRequest, TResponse, DirectAccess>.TryInitialize(region, regionBytes, out ring._ring);
    }

    public static bool TryAttach(void* region, uint regionBytes, uint index, out FrontRing<TRequest, TResponse> ring)
    {
        ring = default;
        return FrontRing<TRequest, TResponse, DirectAccess>.TryAttach(region, regionBytes, index, out ring._ring);
    }

    public static bool TryAttachAtSharedIndices(void* region, uint regionBytes, out FrontRing<TRequest, TResponse> ring)
    {
        ring = default;
        return FrontRing<TRequest, TResponse, DirectAccess>.TryAttachAtSharedIndices(region, regionBytes, out ring._ring);
    }

    public readonly uint Size => _ring.Size;

    public readonly RingStatus Status => _ring.Status;

    public readonly uint RequestsInFlight => _ring.RequestsInFlight;

    public readonly uint FreeRequests => _ring.FreeRequests;

    public readonly uint RequestProducer => _ring.RequestProducer;

    public readonly uint ResponseConsumer => _ring.ResponseConsumer;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryWriteRequest(in TRequest request) => _ring.TryWriteRequest(in request);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PushRequests() => _ring.PushRequests();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool PushRequestsAndCheckNotify() => _ring.PushRequestsAndCheckNotify();

    public uint UnconsumedResponses() => _ring.UnconsumedResponses();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryTakeResponse(out TResponse response) => _ring.TryTakeResponse(out response);

    public bool FinalCheckForResponses() => _ring.FinalCheckForResponses();
}

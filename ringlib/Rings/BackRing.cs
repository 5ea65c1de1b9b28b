using System.Runtime.CompilerServices;

namespace Keel.Ringlib;

/// <summary>
/// The back-end's half of a shared ring: it consumes requests and writes responses (io/ring.h: the
/// BACK_RING macros). A value of this type is the back-end's private state. The front-end is not trusted:
/// its request producer index is checked each time it is read, each request is copied out of the ring once,
/// and nothing here loops on a value the front-end controls.
/// </summary>
/// <typeparam name="TRequest">The request layout; with the response it shares the slot.</typeparam>
/// <typeparam name="TResponse">The response layout.</typeparam>
/// <typeparam name="TAccess">How shared indices are touched; <see cref="DirectAccess"/> outside tests.</typeparam>
public unsafe struct BackRing<TRequest, TResponse, TAccess>
    where TRequest : unmanaged
    where TResponse : unmanaged
    where TAccess : struct, ISharedMemoryAccess
{
    private SharedRingHeader* _shared;   // the shared header; every value in it may change at any moment
    private byte* _slots;                // first slot, HeaderBytes after the header
    private uint _entryBytes;            // size of one slot
    private uint _size;                  // slot count, a power of two
    private uint _responseProducer;      // responses written, published or not (io/ring.h: rsp_prod_pvt)
    private uint _responseChecked;       // rsp_prod as of the last notification check: the "old" of the next check
    private uint _requestConsumer;       // requests taken off the ring (io/ring.h: req_cons)
    private uint _requestSeen;           // the last req_prod value found believable; requests up to it may be taken
    private RingStatus _status;          // Ok until the front-end is caught lying

    /// <summary>Attaches to a ring the front-end has just initialised (io/ring.h: BACK_RING_INIT).</summary>
    public static bool TryAttach(void* region, uint regionBytes, out BackRing<TRequest, TResponse, TAccess> ring)
        => TryAttach(region, regionBytes, 0, out ring);

    /// <summary>Attaches with both private counters at <paramref name="index"/> (io/ring.h: BACK_RING_ATTACH).
    /// Requests from <paramref name="index"/> on will be consumed and answered.</summary>
    public static bool TryAttach(void* region, uint regionBytes, uint index, out BackRing<TRequest, TResponse, TAccess> ring)
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
        ring._responseProducer = index;
        ring._responseChecked = index;
        ring._requestConsumer = index;
        ring._requestSeen = index;
        return true;
    }

    /// <summary>Re-attaches to a live ring, for a back-end that restarts while its front-end keeps running:
    /// both counters start at the shared rsp_prod, so every request that was published but never answered
    /// is consumed again and answered. Nothing acknowledged is lost; a request the old back-end had taken but
    /// not answered is served a second time, which the protocol allows for requests not yet acknowledged.
    /// Fails when the shared indices are inconsistent (more requests outstanding than the ring holds).</summary>
    public static bool TryAttachAtSharedIndices(void* region, uint regionBytes, out BackRing<TRequest, TResponse, TAccess> ring)
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

        ring._responseProducer = responseProducer;
        ring._responseChecked = responseProducer;
        ring._requestConsumer = responseProducer;
        ring._requestSeen = responseProducer;
        return true;
    }

    /// <summary>Slot count: a power of two.</summary>
    public readonly uint Size => _size;

    /// <summary>Ok, or why the front-end is no longer believed.</summary>
    public readonly RingStatus Status => _status;

    /// <summary>Requests taken off the ring and not yet answered.</summary>
    public readonly uint PendingResponses => _requestConsumer - _responseProducer;

    /// <summary>The private request consumer (io/ring.h: req_cons).</summary>
    public readonly uint RequestConsumer => _requestConsumer;

    /// <summary>The private response producer (io/ring.h: rsp_prod_pvt).</summary>
    public readonly uint ResponseProducer => _responseProducer;

    /// <summary>Requests published by the front-end and not yet taken, after checking its producer index
    /// (io/ring.h: RING_HAS_UNCONSUMED_REQUESTS and RING_REQUEST_PROD_OVERFLOW). Returns 0 once the front-end
    /// is caught lying; <see cref="Status"/> then says how, so the caller can cut it off.</summary>
    public uint UnconsumedRequests()
    {
        if (_status != RingStatus.Ok)
        {
            return 0;
        }

        // Acquire: request entries are read only after the req_prod that covers them (io/ring.h: the xen_rmb()
        // a consumer issues after reading a producer index).
        uint producer = TAccess.Read(&_shared->RequestProducer);
        // Every slot from rsp_prod_pvt on may hold a request, but no more than the ring has: a front-end that
        // claims more is overflowing (io/ring.h: RING_REQUEST_PROD_OVERFLOW).
        uint outstanding = producer - _responseProducer;
        if (outstanding > _size)
        {
            return Fail(RingStatus.ProducerOverflow);
        }

        // A producer index behind the value already seen (in particular behind req_cons) has moved backwards.
        if (outstanding < _requestSeen - _responseProducer)
        {
            return Fail(RingStatus.ProducerRegressed);
        }

        // io/ring.h clamps the count to min(req_prod - req_cons, size - (req_cons - rsp_prod_pvt)) so that a
        // lying front-end cannot make the back-end run past the slots it has not answered. The two checks
        // above imply req_cons <= req_prod <= rsp_prod_pvt + size, so the first term is already the smaller.
        _requestSeen = producer;
        return producer - _requestConsumer;
    }

    /// <summary>Copies the next request out of the ring. The copy is the only read of that slot: the caller
    /// validates and uses the copy, so the front-end cannot change a request after it was checked (XSA-155,
    /// io/ring.h: RING_COPY_REQUEST). The compiler may load only the fields the caller uses, but the .NET
    /// memory model forbids it to introduce reads, so no field is fetched from the slot twice.
    /// Returns false when no request is available or the ring has failed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryTakeRequest(out TRequest request)
    {
        if (_requestConsumer == _requestSeen && UnconsumedRequests() == 0)
        {
            request = default;
            return false;
        }

        request = Unsafe.ReadUnaligned<TRequest>(Slot(_requestConsumer));
        _requestConsumer++;
        return true;
    }

    /// <summary>Writes a response into the slot of the oldest unanswered request, without publishing it.
    /// Returns false when every request taken has already been answered: a response needs a slot whose
    /// request has been copied out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryWriteResponse(in TResponse response)
    {
        if (_responseProducer == _requestConsumer)
        {
            return false;
        }

        Unsafe.WriteUnaligned(Slot(_responseProducer), response);
        _responseProducer++;
        return true;
    }

    /// <summary>Publishes every written response without deciding about a notification
    /// (io/ring.h: RING_PUSH_RESPONSES). For a burst: publish as it goes, then end the burst with
    /// <see cref="PushResponsesAndCheckNotify"/>, whose check covers these responses too.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PushResponses()
    {
        // Release: the front-end sees the response entries before the rsp_prod that covers them.
        TAccess.Write(&_shared->ResponseProducer, _responseProducer);
    }

    /// <summary>Publishes every written response and says whether the front-end must be notified
    /// (io/ring.h: RING_PUSH_RESPONSES_AND_CHECK_NOTIFY). As in FrontRing.PushRequestsAndCheckNotify, the
    /// check covers every response published since the previous check, including those published by
    /// <see cref="PushResponses"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool PushResponsesAndCheckNotify()
    {
        uint old = _responseChecked;
        uint published = _responseProducer;
        if (published == old)
        {
            return false;
        }

        // Release: the front-end sees the response entries before the rsp_prod that covers them.
        TAccess.Write(&_shared->ResponseProducer, published);
        _responseChecked = published;
        // Full barrier: the front-end must be able to see the new rsp_prod before we read rsp_event. It pairs
        // with the barrier in FrontRing.FinalCheckForResponses: either the front-end finds these responses on
        // its final check or we find its new rsp_event here and notify.
        TAccess.FullBarrier();
        uint responseEvent = TAccess.Read(&_shared->ResponseEvent);
        return published - responseEvent < published - old;
    }

    /// <summary>Called when no request is left, before sleeping (io/ring.h: RING_FINAL_CHECK_FOR_REQUESTS).
    /// Asks for a notification on the very next request, then looks once more. True means requests arrived:
    /// do not sleep. False means the front-end is now bound to notify for its next request, or the ring has
    /// failed (see <see cref="Status"/>).</summary>
    public bool FinalCheckForRequests()
    {
        if (_requestConsumer != _requestSeen || UnconsumedRequests() != 0)
        {
            return true;
        }

        if (_status != RingStatus.Ok)
        {
            return false;
        }

        TAccess.Write(&_shared->RequestEvent, _requestConsumer + 1);
        // Full barrier: the front-end must be able to see the new req_event before we read req_prod again. It
        // pairs with the barrier in FrontRing.PushRequestsAndCheckNotify: either we see its new requests now,
        // or it sees our req_event and notifies.
        TAccess.FullBarrier();
        return UnconsumedRequests() != 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly byte* Slot(uint index) => _slots + (nuint)((index & (_size - 1)) * _entryBytes);

    private uint Fail(RingStatus status)
    {
        _status = status;
        _requestSeen = _requestConsumer;
        return 0;
    }
}

/// <summary>
/// A back ring with the production memory access: what back-end drivers use. Every member forwards to
/// <see cref="BackRing{TRequest, TResponse, TAccess}"/>; see there for the contracts.
/// </summary>
public unsafe struct BackRing<TRequest, TResponse>
    where TRequest : unmanaged
    where TResponse : unmanaged
{
    private BackRing<TRequest, TResponse, DirectAccess> _ring;

    public static bool TryAttach(void* region, uint regionBytes, out BackRing<TRequest, TResponse> ring)
    {
        ring = default;
        return BackRing<TRequest, TResponse, DirectAccess>.TryAttach(region, regionBytes, out ring._ring);
    }

    public static bool TryAttach(void* region, uint regionBytes, uint index, out BackRing<TRequest, TResponse> ring)
    {
        ring = default;
        return BackRing<TRequest, TResponse, DirectAccess>.TryAttach(region, regionBytes, index, out ring._ring);
    }

    public static bool TryAttachAtSharedIndices(void* region, uint regionBytes, out BackRing<TRequest, TResponse> ring)
    {
        ring = default;
        return BackRing<TRequest, TResponse, DirectAccess>.TryAttachAtSharedIndices(region, regionBytes, out ring._ring);
    }

    public readonly uint Size => _ring.Size;

    public readonly RingStatus Status => _ring.Status;

    public readonly uint PendingResponses => _ring.PendingResponses;

    public readonly uint RequestConsumer => _ring.RequestConsumer;

    public readonly uint ResponseProducer => _ring.ResponseProducer;

    public uint UnconsumedRequests() => _ring.UnconsumedRequests();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryTakeRequest(out TRequest request) => _ring.TryTakeRequest(out request);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryWriteResponse(in TResponse response) => _ring.TryWriteResponse(in response);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PushResponses() => _ring.PushResponses();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool PushResponsesAndCheckNotify() => _ring.PushResponsesAndCheckNotify();

    public bool FinalCheckForRequests() => _ring.FinalCheckForRequests();
}

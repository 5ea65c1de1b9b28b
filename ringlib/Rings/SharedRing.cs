// Shared-memory request/response rings, laid out and behaving like Xen's io/ring.h.
//
// What a ring is
//   Two domains share a region of memory: one page, or 2^order pages. The front-end puts requests on the
//   ring and takes responses off it; the back-end takes requests off and puts responses on. Requests and
//   responses share the same slots: a response is written into the slot of a request that has already been
//   copied out, so the ring never needs more slots than there are requests in flight.
//
// Layout (io/ring.h, DEFINE_RING_TYPES)
//   offset 0   u32 req_prod    written by the front-end: requests published so far
//   offset 4   u32 req_event   written by the back-end: notify me when req_prod passes this value
//   offset 8   u32 rsp_prod    written by the back-end: responses published so far
//   offset 12  u32 rsp_event   written by the front-end: notify me when rsp_prod passes this value
//   offset 16  padding up to 64 (Xen keeps a few private bytes there; this library writes zeros at init)
//   offset 64  the slots: each slot is a union of one request and one response, so a slot's size is the
//              larger of the two, rounded up to the stricter alignment. The slot count is the largest power
//              of two that fits in the rest of the region (io/ring.h: __CONST_RING_SIZE).
//   The indices are free-running 32-bit counters that wrap at 2^32; a slot is found by masking an index
//   with (count - 1). Differences of indices are taken in u32 arithmetic, which is why the slot count must
//   be a power of two no larger than 2^31.
//
// Who owns what
//   Each side keeps private counters next to the shared ones: the front-end has req_prod_pvt (requests
//   written, maybe not yet published) and rsp_cons (responses consumed); the back-end has rsp_prod_pvt and
//   req_cons. A side only ever writes its own producer index and its own event index; every shared value
//   written by the peer is an allegation, checked before it is used (see BackRing and FrontRing).
//
// How to set one up
//   1. The front-end allocates and grants the region and calls FrontRing.TryInitialize, which writes the
//      shared header (events start at 1, so the first message of each direction notifies). Only the
//      front-end initialises the header.
//   2. It tells the back-end where the region is (grant reference and event channel, through the store).
//   3. The back-end maps the region and calls BackRing.TryAttach. A back-end that restarts, or a front-end
//      that re-attaches after a migration, uses TryAttach with an explicit index or TryAttachAtSharedIndices
//      (io/ring.h: FRONT_RING_ATTACH, BACK_RING_ATTACH).
//
// How to use one
//   Producer: write entries privately (TryWriteRequest / TryWriteResponse), then PushXxxAndCheckNotify,
//   and send an event only when it returns true. Consumer: take entries (TryTakeRequest/TryTakeResponse)
//   until none is left, then call FinalCheckForXxx; only if that returns false may it sleep until the next
//   event. This pair of steps is what makes wake-ups impossible to lose, and it is also what suppresses
//   notifications while the consumer is busy. A burst may be published piecemeal with PushRequests /
//   PushResponses and closed with one PushXxxAndCheckNotify: its check covers everything published since
//   the previous check (io/ring.h's covers only what that last push added, which can miss a consumer that
//   went to sleep during the burst).
//
// What a ring does NOT do
//   No flow control beyond refusing to write into a full ring, no locking (one producer and one consumer
//   per direction), no notification itself (the caller owns the event channel), no validation of entry
//   contents (that is the protocol's job: parse, then act).

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Keel.Ringlib;

/// <summary>The first 64 bytes of a shared ring region (io/ring.h: the head of struct __name##_sring).</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct SharedRingHeader
{
    /// <summary>Requests published by the front-end (free-running).</summary>
    [FieldOffset(0)] public uint RequestProducer;

    /// <summary>The back-end asks to be notified when RequestProducer moves past this value.</summary>
    [FieldOffset(4)] public uint RequestEvent;

    /// <summary>Responses published by the back-end (free-running).</summary>
    [FieldOffset(8)] public uint ResponseProducer;

    /// <summary>The front-end asks to be notified when ResponseProducer moves past this value.</summary>
    [FieldOffset(12)] public uint ResponseEvent;
}

/// <summary>Why a ring stopped trusting its peer. Once set, a status never goes back to Ok: the caller is
/// expected to report the peer and cut it off, as Linux's netback and blkback do.</summary>
public enum RingStatus : byte
{
    Ok = 0,

    /// <summary>The peer's producer index claims more entries than the ring can hold
    /// (io/ring.h: RING_REQUEST_PROD_OVERFLOW, and its mirror image for responses).</summary>
    ProducerOverflow = 1,

    /// <summary>The peer's producer index moved backwards, behind entries already consumed.</summary>
    ProducerRegressed = 2,
}

/// <summary>Sizes of rings: slot size and slot count for a region (io/ring.h: __CONST_RING_SIZE).</summary>
public static class RingGeometry
{
    /// <summary>Bytes before the first slot: the four indices and padding to a cache line.</summary>
    public const uint HeaderBytes = 64;

    /// <summary>The largest slot count a ring may have: u32 index differences must stay unambiguous.</summary>
    public const uint MaxEntryCount = 1u << 31;

    /// <summary>Bytes in one slot: the size of the C union of one request and one response.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint EntryBytes<TRequest, TResponse>()
        where TRequest : unmanaged
        where TResponse : unmanaged
    {
        uint size = Max((uint)Unsafe.SizeOf<TRequest>(), (uint)Unsafe.SizeOf<TResponse>());
        uint alignment = Max(AlignmentOf<TRequest>(), AlignmentOf<TResponse>());
        return (size + alignment - 1) / alignment * alignment;
    }

    /// <summary>Slots in a region of <paramref name="regionBytes"/> bytes: the largest power of two that
    /// fits after the header, or 0 when not even one slot fits.</summary>
    public static uint EntryCount(uint regionBytes, uint entryBytes)
    {
        if (entryBytes == 0 || regionBytes < HeaderBytes + entryBytes)
        {
            return 0;
        }

        uint fit = (regionBytes - HeaderBytes) / entryBytes;
        uint count = RoundDownToPowerOfTwo(fit);
        return count > MaxEntryCount ? MaxEntryCount : count;
    }

    /// <summary>Slots a region holds for this request and response type.</summary>
    public static uint EntryCount<TRequest, TResponse>(uint regionBytes)
        where TRequest : unmanaged
        where TResponse : unmanaged
        => EntryCount(regionBytes, EntryBytes<TRequest, TResponse>());

    /// <summary>The alignment the x86-64 C ABI gives a type made of the same fields: a struct's
    /// alignment is that of its widest field, and the CLR lays out a sequential struct the same way.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint AlignmentOf<T>() where T : unmanaged
        => (uint)(Unsafe.SizeOf<AlignmentProbe<T>>() - Unsafe.SizeOf<T>());

    /// <summary>x with every bit below its highest set bit cleared; 0 stays 0.</summary>
    public static uint RoundDownToPowerOfTwo(uint x)
    {
        x |= x >> 1;
        x |= x >> 2;
        x |= x >> 4;
        x |= x >> 8;
        x |= x >> 16;
        return x - (x >> 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Max(uint a, uint b) => a > b ? a : b;

    /// <summary>One byte, then a T: the T lands at the first offset its alignment allows.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct AlignmentProbe<T> where T : unmanaged
    {
        public byte Lead;
        public T Value;
    }
}

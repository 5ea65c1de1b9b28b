// The store wire protocol (Xen io/xs_wire.h) and the shared page a domain talks to the store through.
//
// A message is a 16-byte header {type, req_id, tx_id, len} followed by len bytes of payload, usually
// NUL-terminated strings; len is at most 4096. The client (a guest kernel) writes requests into a 1 KiB byte
// ring and reads replies and watch events from another; the store does the opposite. Messages are a byte
// stream: one message may be split across the ring's wrap or across several notifications, and a reader
// must reassemble it.
//
// Unlike the request/response rings there are no event fields: each side notifies after every change of
// an index. The four indices live after the two rings; all of them are in memory the peer can write, so
// both readers and writers check them (a difference above 1024 is a lie) and mask before indexing.

using System;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Keel.Ringlib.Protocols;

/// <summary>Message types (enum xsd_sockmsg_type).</summary>
public enum StoreMessageType : uint
{
    Control = 0,
    Directory = 1,
    Read = 2,
    GetPermissions = 3,
    Watch = 4,
    Unwatch = 5,
    TransactionStart = 6,
    TransactionEnd = 7,
    Introduce = 8,
    Release = 9,
    GetDomainPath = 10,
    Write = 11,
    Mkdir = 12,
    Remove = 13,
    SetPermissions = 14,
    WatchEvent = 15,
    Error = 16,
    IsDomainIntroduced = 17,
    Resume = 18,
    SetTarget = 19,

    /// <summary>20 was XS_RESTRICT, since removed.</summary>
    ResetWatches = 21,
    DirectoryPart = 22,

    /// <summary>One past the last valid type.</summary>
    TypeCount = 23,

    /// <summary>Guaranteed never to be a valid type.</summary>
    Invalid = 0xFFFF,
}

/// <summary>The errors a store reply of type Error can carry, as the errno names sent on the wire
/// (xsd_errors in io/xs_wire.h); the values are Linux's errno numbers.</summary>
public enum StoreError : byte
{
    None = 0,
    EINVAL = 22,
    EACCES = 13,
    EEXIST = 17,
    EISDIR = 21,
    ENOENT = 2,
    ENOMEM = 12,
    ENOSPC = 28,
    EIO = 5,
    ENOTEMPTY = 39,
    ENOSYS = 38,
    EROFS = 30,
    EBUSY = 16,
    EAGAIN = 11,
    EISCONN = 106,
    E2BIG = 7,

    /// <summary>Added last to xsd_errors: an unprivileged SET_PERMS that would give the node away.</summary>
    EPERM = 1,
}

/// <summary>Why a message header was refused.</summary>
public enum StoreHeaderError : byte
{
    None = 0,

    /// <summary>Fewer than 16 bytes.</summary>
    Truncated,

    /// <summary>len above 4096 (XENSTORE_PAYLOAD_MAX).</summary>
    PayloadTooLarge,

    /// <summary>A type number the protocol does not define.</summary>
    UnknownType,
}

/// <summary>The result of a byte-ring transfer.</summary>
public enum StoreRingStatus : byte
{
    Ok = 0,

    /// <summary>The indices claim more than 1024 bytes queued: the peer is lying. Nothing was transferred.</summary>
    Corrupt = 1,
}

/// <summary>Constants of io/xs_wire.h.</summary>
public static class Store
{
    /// <summary>Bytes in each of the two byte rings (XENSTORE_RING_SIZE).</summary>
    public const uint RingBytes = 1024;

    /// <summary>The largest payload of one message (XENSTORE_PAYLOAD_MAX).</summary>
    public const uint PayloadMax = 4096;

    /// <summary>The longest absolute path (XENSTORE_ABS_PATH_MAX).</summary>
    public const int AbsolutePathMax = 3072;

    /// <summary>The longest relative path (XENSTORE_REL_PATH_MAX).</summary>
    public const int RelativePathMax = 2048;

    /// <summary>server_features bit: the store supports reconnecting the ring (XENSTORE_SERVER_FEATURE_RECONNECTION).</summary>
    public const uint FeatureReconnection = 1;

    /// <summary>connection value: the steady state (XENSTORE_CONNECTED).</summary>
    public const uint Connected = 0;

    /// <summary>connection value: the guest asked to reconnect (XENSTORE_RECONNECT).</summary>
    public const uint Reconnect = 1;

    /// <summary>The name of <paramref name="error"/> as sent in an Error reply, without the NUL; empty for None.</summary>
    public static ReadOnlySpan<byte> ErrorName(StoreError error) => error switch
    {
        StoreError.EINVAL => "EINVAL"u8,
        StoreError.EACCES => "EACCES"u8,
        StoreError.EEXIST => "EEXIST"u8,
        StoreError.EISDIR => "EISDIR"u8,
        StoreError.ENOENT => "ENOENT"u8,
        StoreError.ENOMEM => "ENOMEM"u8,
        StoreError.ENOSPC => "ENOSPC"u8,
        StoreError.EIO => "EIO"u8,
        StoreError.ENOTEMPTY => "ENOTEMPTY"u8,
        StoreError.ENOSYS => "ENOSYS"u8,
        StoreError.EROFS => "EROFS"u8,
        StoreError.EBUSY => "EBUSY"u8,
        StoreError.EAGAIN => "EAGAIN"u8,
        StoreError.EISCONN => "EISCONN"u8,
        StoreError.E2BIG => "E2BIG"u8,
        StoreError.EPERM => "EPERM"u8,
        _ => default,
    };

    /// <summary>The error an Error reply's payload names (with or without its trailing NUL); None when the
    /// payload names no known error.</summary>
    public static StoreError ParseErrorName(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > 0 && payload[payload.Length - 1] == 0)
        {
            payload = payload.Slice(0, payload.Length - 1);
        }

        for (int value = 1; value < 128; value++)
        {
            ReadOnlySpan<byte> name = ErrorName((StoreError)value);
            if (name.Length != 0 && BytesEqual(name, payload))
            {
                return (StoreError)value;
            }
        }

        return StoreError.None;
    }

    private static bool BytesEqual(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i])
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>A message header (struct xsd_sockmsg), little-endian on the wire.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct StoreMessageHeader
{
    public const int Bytes = 16;

    /// <summary>A <see cref="StoreMessageType"/>.</summary>
    [FieldOffset(0)] public uint Type;

    /// <summary>Chosen by the client, echoed in the reply.</summary>
    [FieldOffset(4)] public uint RequestId;

    /// <summary>The transaction this message belongs to; 0 outside any transaction.</summary>
    [FieldOffset(8)] public uint TransactionId;

    /// <summary>Bytes of payload after the header.</summary>
    [FieldOffset(12)] public uint Length;

    /// <summary>Decodes and checks a header from the first 16 bytes of <paramref name="source"/>. The header is
    /// filled in whenever 16 bytes were there: after UnknownType the payload length is still good, so the
    /// reader can skip the payload and answer with an error; after PayloadTooLarge the stream cannot be
    /// followed any further and the connection must be dropped.</summary>
    public static StoreHeaderError TryRead(ReadOnlySpan<byte> source, out StoreMessageHeader header)
    {
        header = default;
        if (source.Length < Bytes)
        {
            return StoreHeaderError.Truncated;
        }

        header.Type = BinaryPrimitives.ReadUInt32LittleEndian(source);
        header.RequestId = BinaryPrimitives.ReadUInt32LittleEndian(source.Slice(4));
        header.TransactionId = BinaryPrimitives.ReadUInt32LittleEndian(source.Slice(8));
        header.Length = BinaryPrimitives.ReadUInt32LittleEndian(source.Slice(12));
        if (header.Length > Store.PayloadMax)
        {
            return StoreHeaderError.PayloadTooLarge;
        }

        if (header.Type >= (uint)StoreMessageType.TypeCount || header.Type == 20)
        {
            return StoreHeaderError.UnknownType;
        }

        return StoreHeaderError.None;
    }

    /// <summary>Encodes the header into the first 16 bytes of <paramref name="destination"/>; false when it
    /// is shorter than that.</summary>
    public readonly bool TryWrite(Span<byte> destination)
    {
        if (destination.Length < Bytes)
        {
            return false;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(destination, Type);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(4), RequestId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(8), TransactionId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(12), Length);
        return true;
    }
}

/// <summary>The start of the store's shared page (struct xenstore_domain_interface); the rest of the page is
/// unused.</summary>
[StructLayout(LayoutKind.Explicit, Size = 2072)]
public unsafe struct StoreRingPage
{
    /// <summary>Requests to the store.</summary>
    [FieldOffset(0)] public fixed byte Request[1024];

    /// <summary>Replies and watch events from the store.</summary>
    [FieldOffset(1024)] public fixed byte Response[1024];

    /// <summary>Bytes of Request the store has consumed.</summary>
    [FieldOffset(2048)] public uint RequestConsumer;

    /// <summary>Bytes the client has written into Request.</summary>
    [FieldOffset(2052)] public uint RequestProducer;

    /// <summary>Bytes of Response the client has consumed.</summary>
    [FieldOffset(2056)] public uint ResponseConsumer;

    /// <summary>Bytes the store has written into Response.</summary>
    [FieldOffset(2060)] public uint ResponseProducer;

    /// <summary>Features the store offers (Store.Feature*).</summary>
    [FieldOffset(2064)] public uint ServerFeatures;

    /// <summary>Store.Connected or Store.Reconnect.</summary>
    [FieldOffset(2068)] public uint Connection;
}

/// <summary>
/// One direction of the store page: a 1 KiB byte ring with free-running u32 indices. The same type serves
/// the writer and the reader of that direction. Every call reads both indices afresh from shared memory,
/// checks that they describe at most 1024 queued bytes, and masks them before touching the data, so no
/// index value can make it read or write outside the 1 KiB. Transfers are partial when the ring is full
/// or runs dry; no call waits.
/// </summary>
public unsafe struct StoreByteRing
{
    private byte* _data;         // the 1 KiB of this direction
    private uint* _consumer;     // shared: bytes consumed by the reader
    private uint* _producer;     // shared: bytes written by the writer

    private StoreByteRing(byte* data, uint* consumer, uint* producer)
    {
        _data = data;
        _consumer = consumer;
        _producer = producer;
    }

    /// <summary>The client-to-store direction of <paramref name="page"/>.</summary>
    public static StoreByteRing Requests(StoreRingPage* page)
        => new StoreByteRing(page->Request, &page->RequestConsumer, &page->RequestProducer);

    /// <summary>The store-to-client direction of <paramref name="page"/>.</summary>
    public static StoreByteRing Responses(StoreRingPage* page)
        => new StoreByteRing(page->Response, &page->ResponseConsumer, &page->ResponseProducer);

    /// <summary>Bytes queued for the reader.</summary>
    public readonly StoreRingStatus Queued(out uint bytes)
    {
        // Acquire: any data read after this is at least as new as the producer index.
        uint producer = DirectAccess.Read(_producer);
        uint consumer = DirectAccess.Read(_consumer);
        bytes = producer - consumer;
        if (bytes > Store.RingBytes)
        {
            bytes = 0;
            return StoreRingStatus.Corrupt;
        }

        return StoreRingStatus.Ok;
    }

    /// <summary>Writes as much of <paramref name="source"/> as fits and publishes it.</summary>
    public readonly StoreRingStatus Write(ReadOnlySpan<byte> source, out int written)
    {
        written = 0;
        // Acquire on the consumer: the reader has finished with the bytes it consumed before we overwrite them.
        uint consumer = DirectAccess.Read(_consumer);
        uint producer = DirectAccess.Read(_producer);
        uint queued = producer - consumer;
        if (queued > Store.RingBytes)
        {
            return StoreRingStatus.Corrupt;
        }

        uint free = Store.RingBytes - queued;
        int count = source.Length < (int)free ? source.Length : (int)free;
        for (int i = 0; i < count; i++)
        {
            _data[(producer + (uint)i) & (Store.RingBytes - 1)] = source[i];
        }

        // Release: the reader sees the bytes before the producer index that covers them.
        DirectAccess.Write(_producer, producer + (uint)count);
        written = count;
        return StoreRingStatus.Ok;
    }

    /// <summary>Reads as many queued bytes as fit in <paramref name="destination"/> and frees their space.</summary>
    public readonly StoreRingStatus Read(Span<byte> destination, out int read)
    {
        read = 0;
        // Acquire on the producer: the bytes read below are at least as new as the index that covers them.
        uint producer = DirectAccess.Read(_producer);
        uint consumer = DirectAccess.Read(_consumer);
        uint queued = producer - consumer;
        if (queued > Store.RingBytes)
        {
            return StoreRingStatus.Corrupt;
        }

        int count = destination.Length < (int)queued ? destination.Length : (int)queued;
        for (int i = 0; i < count; i++)
        {
            destination[i] = _data[(consumer + (uint)i) & (Store.RingBytes - 1)];
        }

        // Release: our reads of those bytes are complete before the writer sees the space as free and
        // overwrites it (Linux's xenbus uses a full barrier here; a release store gives the same order).
        DirectAccess.Write(_consumer, consumer + (uint)count);
        read = count;
        return StoreRingStatus.Ok;
    }
}

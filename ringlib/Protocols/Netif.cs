// The network protocol between a guest's netfront and a driver domain's netback (Xen io/netif.h).
//
// Two rings per queue: on the transmit ring the guest sends packets (netif_tx_request) and the back-end
// answers (netif_tx_response); on the receive ring the guest posts empty granted pages (netif_rx_request)
// and the back-end fills them and answers (netif_rx_response). Layouts are those of the x86-64 C ABI; the
// tests pin every size and offset. Both rings hold 256 slots in one page.
//
// Negotiation (store keys): the back-end publishes feature-sg, feature-gso-tcpv4, feature-gso-tcpv6,
// feature-rx-copy, feature-split-event-channels, feature-multicast-control, feature-ctrl-ring,
// multi-queue-max-queues; the front-end publishes tx-ring-ref, rx-ring-ref, event-channel (or
// event-channel-tx and event-channel-rx), request-rx-copy, feature-rx-notify, multi-queue-num-queues.
//
// Packet format on the transmit ring: a first request whose size is the whole packet's length, then, if its
// flags have ExtraInfo, extra-info slots (each with More set if another follows), then one request per
// further fragment as long as the previous one had MoreData. A back-end must accept at least 18 slots per
// packet. Extra-info slots are answered with status Null. On the receive ring the back-end mirrors this:
// a response's status is the fragment length when positive.

using System.Runtime.InteropServices;

namespace Keel.Ringlib.Protocols;

/// <summary>Constants of io/netif.h.</summary>
public static class Netif
{
    /// <summary>Slots a back-end must accept for one packet (XEN_NETIF_NR_SLOTS_MIN; older Linux MAX_SKB_FRAGS).</summary>
    public const int MaxSlotsPerPacket = 18;

    /// <summary>The largest packet a transmit request can describe (XEN_NETIF_MAX_TX_SIZE).</summary>
    public const int MaxTxSize = 0xFFFF;

    /// <summary>Slots in a one-page transmit or receive ring.</summary>
    public const int EntriesPerPageRing = 256;
}

/// <summary>Flags of a transmit request (NETTXF_*).</summary>
public static class NetTxFlags
{
    /// <summary>The protocol checksum field is blank: the back-end (or hardware) must fill it in.</summary>
    public const ushort ChecksumBlank = 1 << 0;

    /// <summary>The packet's data has been validated against its protocol checksum.</summary>
    public const ushort DataValidated = 1 << 1;

    /// <summary>The packet continues in the next request.</summary>
    public const ushort MoreData = 1 << 2;

    /// <summary>One or more extra-info slots follow this request.</summary>
    public const ushort ExtraInfo = 1 << 3;
}

/// <summary>Flags of a receive response (NETRXF_*). Note the first two bits are swapped with respect to the
/// transmit flags.</summary>
public static class NetRxFlags
{
    /// <summary>The packet's data has been validated against its protocol checksum.</summary>
    public const ushort DataValidated = 1 << 0;

    /// <summary>The protocol checksum field is blank.</summary>
    public const ushort ChecksumBlank = 1 << 1;

    /// <summary>The packet continues in the next response.</summary>
    public const ushort MoreData = 1 << 2;

    /// <summary>One or more extra-info slots follow this response.</summary>
    public const ushort ExtraInfo = 1 << 3;

    /// <summary>The packet has a GSO prefix slot (deprecated, kept for compatibility).</summary>
    public const ushort GsoPrefix = 1 << 4;
}

/// <summary>Response status codes (NETIF_RSP_*); a positive receive status is a length.</summary>
public enum NetifStatus : short
{
    Dropped = -2,
    Error = -1,
    Okay = 0,

    /// <summary>No response: the answer to an auxiliary slot such as an extra-info record.</summary>
    Null = 1,
}

/// <summary>Kinds of extra-info record (XEN_NETIF_EXTRA_TYPE_*).</summary>
public enum NetifExtraType : byte
{
    /// <summary>Never valid.</summary>
    None = 0,
    Gso = 1,
    MulticastAdd = 2,
    MulticastDelete = 3,
    Hash = 4,

    /// <summary>One past the last known type: a record of this type or above is unknown.</summary>
    Max = 5,
}

/// <summary>Extra-info record flags (XEN_NETIF_EXTRA_FLAG_*).</summary>
public static class NetifExtraFlags
{
    /// <summary>Another extra-info record follows this one.</summary>
    public const byte More = 1 << 0;
}

/// <summary>GSO types (XEN_NETIF_GSO_TYPE_*).</summary>
public enum NetifGsoType : byte
{
    None = 0,
    TcpV4 = 1,
    TcpV6 = 2,
}

/// <summary>Hash types carried by a hash extra-info record (the bit numbers _XEN_NETIF_CTRL_HASH_TYPE_*).</summary>
public enum NetifHashType : byte
{
    Ipv4 = 0,
    Ipv4Tcp = 1,
    Ipv6 = 2,
    Ipv6Tcp = 3,
}

/// <summary>Hash algorithms (XEN_NETIF_CTRL_HASH_ALGORITHM_*).</summary>
public enum NetifHashAlgorithm : byte
{
    None = 0,
    Toeplitz = 1,
}

/// <summary>A transmit request (struct netif_tx_request): one fragment of a packet to send.</summary>
[StructLayout(LayoutKind.Explicit, Size = 12)]
public struct NetifTxRequest
{
    /// <summary>Grant reference of the page holding the fragment.</summary>
    [FieldOffset(0)] public uint GrantRef;

    /// <summary>Offset of the fragment within the page.</summary>
    [FieldOffset(4)] public ushort Offset;

    /// <summary><see cref="NetTxFlags"/>.</summary>
    [FieldOffset(6)] public ushort Flags;

    /// <summary>Chosen by the front-end, echoed in the response.</summary>
    [FieldOffset(8)] public ushort Id;

    /// <summary>The fragment's length; on a packet's first request, the whole packet's length.</summary>
    [FieldOffset(10)] public ushort Size;
}

/// <summary>A transmit response (struct netif_tx_response).</summary>
[StructLayout(LayoutKind.Explicit, Size = 4)]
public struct NetifTxResponse
{
    /// <summary>The request's Id.</summary>
    [FieldOffset(0)] public ushort Id;

    /// <summary>A <see cref="NetifStatus"/>.</summary>
    [FieldOffset(2)] public short Status;
}

/// <summary>A receive request (struct netif_rx_request): an empty granted page for the back-end to fill.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public struct NetifRxRequest
{
    /// <summary>Chosen by the front-end, echoed in the response.</summary>
    [FieldOffset(0)] public ushort Id;

    /// <summary>Grant reference of the page to receive into.</summary>
    [FieldOffset(4)] public uint GrantRef;
}

/// <summary>A receive response (struct netif_rx_response). netfront relies on a response sitting in the same
/// slot as the request it answers, since extra-info records overlay the id.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public struct NetifRxResponse
{
    /// <summary>The request's Id.</summary>
    [FieldOffset(0)] public ushort Id;

    /// <summary>Where the received data starts within the page.</summary>
    [FieldOffset(2)] public ushort Offset;

    /// <summary><see cref="NetRxFlags"/>.</summary>
    [FieldOffset(4)] public ushort Flags;

    /// <summary>Negative: a <see cref="NetifStatus"/>; otherwise the received length.</summary>
    [FieldOffset(6)] public short Status;
}

/// <summary>An extra-info record (struct netif_extra_info): 8 bytes, overlaying a transmit request or a
/// receive response slot. Type selects which of the overlapping fields mean anything.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public unsafe struct NetifExtraInfo
{
    /// <summary>A <see cref="NetifExtraType"/>.</summary>
    [FieldOffset(0)] public byte Type;

    /// <summary><see cref="NetifExtraFlags"/>.</summary>
    [FieldOffset(1)] public byte Flags;

    /// <summary>GSO: the largest payload of each segment (the TCP MSS).</summary>
    [FieldOffset(2)] public ushort GsoSize;

    /// <summary>GSO: a <see cref="NetifGsoType"/>.</summary>
    [FieldOffset(4)] public byte GsoType;

    /// <summary>GSO: unused, zero.</summary>
    [FieldOffset(5)] public byte GsoPad;

    /// <summary>GSO: extra features needed to segment the packet (XEN_NETIF_GSO_FEAT_*).</summary>
    [FieldOffset(6)] public ushort GsoFeatures;

    /// <summary>Multicast add or delete: the Ethernet address.</summary>
    [FieldOffset(2)] public fixed byte MulticastAddress[6];

    /// <summary>Hash: a <see cref="NetifHashType"/>.</summary>
    [FieldOffset(2)] public byte HashType;

    /// <summary>Hash: a <see cref="NetifHashAlgorithm"/>.</summary>
    [FieldOffset(3)] public byte HashAlgorithm;

    /// <summary>Hash: the value, least significant byte first (unaligned, hence bytes).</summary>
    [FieldOffset(4)] public fixed byte HashValue[4];
}

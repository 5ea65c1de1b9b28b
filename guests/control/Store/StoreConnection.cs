using System;
using Keel.Ringlib.Protocols;

namespace Keel.Guests.Control.Store;

/// <summary>How a connection stands.</summary>
public enum StoreConnectionState : byte
{
    /// <summary>No connection for that domain.</summary>
    None = 0,

    /// <summary>Served over its shared page (after INTRODUCE).</summary>
    Ring,

    /// <summary>An in-process client (the control domain itself, or a test), fed by Submit.</summary>
    Local,

    /// <summary>Cut off after a protocol violation: kept (IS_DOMAIN_INTRODUCED still says T, RELEASE still
    /// works) but never served again; its watches and transactions are gone (domain.c ignore_connection).</summary>
    CutOff,
}

/// <summary>Why a connection was cut off.</summary>
public enum StoreConnectionFault : byte
{
    None = 0,

    /// <summary>The ring indices claimed more than 1024 bytes queued (XENSTORE_ERROR_RINGIDX).</summary>
    RingIndex,

    /// <summary>A header's len above 4096: the stream cannot be followed (XENSTORE_ERROR_PROTO).</summary>
    PayloadTooLarge,
}

/// <summary>
/// One domain's connection: the request being reassembled from the byte stream, the output waiting for
/// the peer, and the heads of its watch and transaction lists. Allocated with its buffers once, at the
/// store's construction, and reused.
/// </summary>
internal sealed unsafe class StoreConnection
{
    public const int MessageMax = StoreMessageHeader.Bytes + (int)Keel.Ringlib.Protocols.Store.PayloadMax;

    public readonly byte[] Input = new byte[MessageMax];
    public readonly OutputQueue Output;

    public StoreConnectionState State;
    public StoreConnectionFault Fault;
    public uint Domid;

    /// <summary>The peer's shared page while State is Ring (or CutOff after Ring); mapped by StoreHost.</summary>
    public StoreRingPage* Page;

    /// <summary>Bytes of Input filled: the header first, then the payload it announces.</summary>
    public int InputUsed;

    public int FirstWatch = -1;
    public int FirstTransaction = -1;
    public uint NextTransactionId = 1;

    /// <summary>Watch events dropped because Output was full.</summary>
    public int DroppedEvents;

    public StoreConnection(int outputBytes)
    {
        Output = new OutputQueue(outputBytes);
    }

    public bool Serving => State == StoreConnectionState.Ring || State == StoreConnectionState.Local;

    public void Reset(uint domid, StoreConnectionState state, StoreRingPage* page)
    {
        Domid = domid;
        State = state;
        Fault = StoreConnectionFault.None;
        Page = page;
        InputUsed = 0;
        FirstWatch = -1;
        FirstTransaction = -1;
        NextTransactionId = 1;
        DroppedEvents = 0;
        Output.Clear();
    }

    /// <summary>Hands queued output to the peer's response ring. False when the indices lie.</summary>
    public bool Flush(ref bool moved)
    {
        StoreByteRing responses = StoreByteRing.Responses(Page);
        while (Output.Count > 0)
        {
            ReadOnlySpan<byte> pending = Output.Peek();
            if (responses.Write(pending, out int written) != StoreRingStatus.Ok)
            {
                return false;
            }

            if (written == 0)
            {
                break;
            }

            Output.Drop(written);
            moved = true;
        }

        return true;
    }

    /// <summary>Reads from the request ring towards one whole message: the header, then (once its len is
    /// known to be at most 4096) the payload. <paramref name="complete"/> says a message is now whole in
    /// Input; a fault means the stream cannot be followed and the connection must be cut off.</summary>
    public StoreConnectionFault Fill(ref bool moved, out bool complete)
    {
        complete = false;
        StoreByteRing requests = StoreByteRing.Requests(Page);
        for (int pass = 0; pass < 2; pass++)
        {
            int wanted = StoreMessageHeader.Bytes;
            if (InputUsed >= StoreMessageHeader.Bytes)
            {
                // xs_wire.h: len is at most XENSTORE_PAYLOAD_MAX; beyond it the stream is lost (core.c handle_input).
                if (AnnouncedLength() > Keel.Ringlib.Protocols.Store.PayloadMax)
                {
                    return StoreConnectionFault.PayloadTooLarge;
                }

                wanted += (int)AnnouncedLength();
            }

            if (InputUsed < wanted)
            {
                if (requests.Read(new Span<byte>(Input, InputUsed, wanted - InputUsed), out int read) != StoreRingStatus.Ok)
                {
                    return StoreConnectionFault.RingIndex;
                }

                InputUsed += read;
                moved |= read > 0;
            }

            if (InputUsed < wanted)
            {
                return StoreConnectionFault.None;
            }

            if (wanted > StoreMessageHeader.Bytes || AnnouncedLength() == 0)
            {
                complete = true;
                return StoreConnectionFault.None;
            }
        }

        return StoreConnectionFault.None;
    }

    /// <summary>The header's len field, once the header is in (unchecked: see StoreServer.ServiceRing).</summary>
    public uint AnnouncedLength()
        => (uint)(Input[12] | (Input[13] << 8) | (Input[14] << 16) | (Input[15] << 24));
}

using System;
using Keel.Ringlib.Protocols;
using Keel.Ringlib.Xen;

namespace Keel.Runtime
{
    /// <summary>
    /// The store client (Linux's xenbus_xs.c, in small): requests over the page and port start_info names
    /// (store_mfn, store_evtchn), one at a time, each answered before the next is sent. Relative paths are the
    /// store's to resolve (under /local/domain/ID). A watch event that arrives while waiting for a reply is
    /// kept for <see cref="TakeWatchEvent"/>. Messages are a byte stream that may wrap the 1 KiB rings or
    /// arrive over several notifications, so both directions move a piece at a time and notify after each.
    /// Payloads are ASCII; values come back as strings, each a new object, and without a collector that is
    /// memory for good: the client is for setting up (finding a peer, publishing a ring), not a data path.
    /// A store that stops answering leaves the caller waiting, as it would on Xen: the store is trusted to serve.
    /// </summary>
    public static unsafe class StoreClient
    {
        private static StoreRingPage* s_page;
        private static uint s_port;
        private static uint s_nextRequest = 1;
        private static readonly byte[] s_message = new byte[StoreMessageHeader.Bytes + (int)Store.PayloadMax];
        private static readonly byte[] s_watchEvent = new byte[StoreMessageHeader.Bytes + (int)Store.PayloadMax];
        private static int s_watchEventLength;

        public static bool IsConnected => s_page != null;

        /// <summary>Finds the store page in the initial mapping (through the M2P) and the store port.</summary>
        public static void Connect()
        {
            StartInfo* info = DomainEntry.StartInfo;
            s_page = (StoreRingPage*)Memory.VirtualAddress(Memory.PhysicalFrame(info->StoreMfn));
            s_port = info->StoreEvtchn;
            Events.Unmask(s_port);
        }

        /// <summary>The value at path, or null with the store's error (ENOENT for a missing node).</summary>
        public static string Read(string path, out StoreError error) => Request(StoreMessageType.Read, path, null, 0, out error);

        public static StoreError Write(string path, string value)
        {
            Request(StoreMessageType.Write, path, value, 0, out StoreError error);
            return error;
        }

        public static StoreError Mkdir(string path)
        {
            Request(StoreMessageType.Mkdir, path, null, 0, out StoreError error);
            return error;
        }

        public static StoreError Remove(string path)
        {
            Request(StoreMessageType.Remove, path, null, 0, out StoreError error);
            return error;
        }

        /// <summary>SET_PERMS with Xen's text form, e.g. "n1" "r2" (owner 1, nobody else; domain 2 may read), NUL-separated on the wire.</summary>
        public static StoreError SetPermissions(string path, string permissions)
        {
            Request(StoreMessageType.SetPermissions, path, permissions, 0, out StoreError error);
            return error;
        }

        /// <summary>
        /// The value at path read as a decimal number without making a string (for a loop that must not grow
        /// the heap, such as a back-end following a front-end that changes state again and again): false with
        /// the error for a missing node, and false with EINVAL for anything but 1 to 19 digits.
        /// </summary>
        public static bool ReadNumber(string path, out ulong value, out StoreError error)
        {
            value = 0;
            int length = RequestInPlace(StoreMessageType.Read, path, null, 0, out error);
            if (length < 0) return false;
            if (length > 0 && s_message[StoreMessageHeader.Bytes + length - 1] == 0) length--;
            if (length == 0 || length > 19) { error = StoreError.EINVAL; return false; }
            for (int i = 0; i < length; i++)
            {
                byte digit = s_message[StoreMessageHeader.Bytes + i];
                if (digit < (byte)'0' || digit > (byte)'9') { error = StoreError.EINVAL; return false; }
                value = value * 10 + (ulong)(digit - '0');
            }
            return true;
        }

        /// <summary>Whether the value at path is exactly text, without making a string.</summary>
        public static bool ReadEquals(string path, string text)
        {
            int length = RequestInPlace(StoreMessageType.Read, path, null, 0, out _);
            if (length < 0) return false;
            if (length > 0 && s_message[StoreMessageHeader.Bytes + length - 1] == 0) length--;
            if (length != text.Length) return false;
            for (int i = 0; i < length; i++) if (s_message[StoreMessageHeader.Bytes + i] != text[i]) return false;
            return true;
        }

        /// <summary>The names of path's children, NUL-separated, or null with the store's error.</summary>
        public static string Directory(string path, out StoreError error) => Request(StoreMessageType.Directory, path, null, 0, out error);

        public static StoreError Watch(string path, string token)
        {
            Request(StoreMessageType.Watch, path, token, 0, out StoreError error);
            return error;
        }

        /// <summary>TRANSACTION_START: the new transaction's id (decimal), or null with the store's error.</summary>
        public static string TransactionStart(out StoreError error) => Request(StoreMessageType.TransactionStart, "", null, 0, out error);

        /// <summary>Puts raw bytes on the request ring and notifies, waiting for nothing: for tests of how the
        /// store takes malformed messages. False if the ring is full or its indices lie.</summary>
        public static bool SendRaw(ReadOnlySpan<byte> bytes)
        {
            if (s_page == null) return false;
            StoreByteRing ring = StoreByteRing.Requests(s_page);
            bool whole = ring.Write(bytes, out int written) == StoreRingStatus.Ok && written == bytes.Length;
            Events.Send(s_port);
            return whole;
        }

        /// <summary>GET_DOMAIN_PATH: "/local/domain/ID" for a domain.</summary>
        public static string DomainPath(ushort domain, out StoreError error) => Request(StoreMessageType.GetDomainPath, DomainConsole.Decimal(domain), null, 0, out error);

        /// <summary>The path of the watch event kept since the last call, or null if none came.</summary>
        public static string TakeWatchEvent()
        {
            if (s_watchEventLength == 0) return null;
            string path = FirstString(s_watchEvent, StoreMessageHeader.Bytes, s_watchEventLength);
            s_watchEventLength = 0;
            return path;
        }

        /// <summary>The store's port, for an event loop that waits on it among others.</summary>
        public static uint Port => s_port;

        /// <summary>A watch event that has arrived, taken without waiting: its path, or null if none has.</summary>
        public static string PollWatchEvent()
        {
            if (s_page == null) return null;
            while (s_watchEventLength == 0 && ReceiveOne(out _)) { }
            return TakeWatchEvent();
        }

        /// <summary>
        /// A watch event that has arrived, taken without waiting and without making a string: its path's bytes
        /// go to destination (cut at its length) and their count to length. False if none has arrived.
        /// </summary>
        public static bool PollWatchEvent(Span<byte> destination, out int length)
        {
            length = 0;
            if (s_page == null) return false;
            while (s_watchEventLength == 0 && ReceiveOne(out _)) { }
            if (s_watchEventLength == 0) return false;
            int end = StoreMessageHeader.Bytes;
            while (end < s_watchEventLength && s_watchEvent[end] != 0) end++;
            length = System.Math.Min(end - StoreMessageHeader.Bytes, destination.Length);
            new ReadOnlySpan<byte>(s_watchEvent, StoreMessageHeader.Bytes, length).CopyTo(destination);
            s_watchEventLength = 0;
            return true;
        }

        /// <summary>Waits (sleeping on the store port) for a watch event; its path.</summary>
        public static string WaitForWatchEvent()
        {
            while (true)
            {
                string path = TakeWatchEvent();
                if (path != null) return path;
                if (!ReceiveOne(out _)) WaitForStore();
            }
        }

        /// <summary>
        /// Sends one request (path, then an optional second string; Xen's write carries the value without a
        /// NUL of its own) and waits for its reply. The reply's payload as a string, or null with the error.
        /// </summary>
        private static string Request(StoreMessageType type, string path, string second, uint transaction, out StoreError error)
        {
            int payload = RequestInPlace(type, path, second, transaction, out error);
            return payload < 0 ? null : Text(s_message, StoreMessageHeader.Bytes, payload);
        }

        /// <summary>As <see cref="Request"/>, leaving the reply's payload in s_message after the header: its length, or -1 with the error.</summary>
        private static int RequestInPlace(StoreMessageType type, string path, string second, uint transaction, out StoreError error)
        {
            error = StoreError.EIO;
            if (s_page == null) return -1;
            int length = path.Length + 1 + (second == null ? 0 : second.Length + (type == StoreMessageType.Write ? 0 : 1));
            if (length > Store.PayloadMax) { error = StoreError.E2BIG; return -1; }
            byte[] m = s_message;
            int at = StoreMessageHeader.Bytes;
            at = Put(m, at, path, true);
            if (second != null) at = Put(m, at, second, type != StoreMessageType.Write);
            uint id = s_nextRequest++;
            new StoreMessageHeader { Type = (uint)type, RequestId = id, TransactionId = transaction, Length = (uint)length }.TryWrite(m);
            if (!Send(m, at)) return -1;
            while (true)
            {
                if (!ReceiveOne(out StoreMessageHeader reply))
                {
                    WaitForStore();
                    continue;
                }
                if (reply.Type == (uint)StoreMessageType.WatchEvent) continue;
                if (reply.RequestId != id) continue;
                int payload = (int)reply.Length;
                if (reply.Type == (uint)StoreMessageType.Error)
                {
                    error = Store.ParseErrorName(new ReadOnlySpan<byte>(m, StoreMessageHeader.Bytes, payload));
                    if (error == StoreError.None) error = StoreError.EIO;
                    return -1;
                }
                error = StoreError.None;
                return payload;
            }
        }

        /// <summary>
        /// Sleeps until the store signals (or 10 ms pass). The port's pending bit is cleared first: Xen flags and
        /// kicks only when a port goes from not pending to pending, so a bit left set would make every later
        /// notification silent. Set already means the store moved since the caller last looked: return at once.
        /// </summary>
        private static void WaitForStore()
        {
            if (Events.TakePending(s_port)) return;
            Events.WaitUntil(Clock.Now + 10_000_000);
            Events.TakePending(s_port);
        }

        private static int Put(byte[] m, int at, string text, bool terminate)
        {
            for (int i = 0; i < text.Length; i++) m[at++] = (byte)text[i];
            if (terminate) m[at++] = 0;
            return at;
        }

        /// <summary>Writes the whole message into the request ring, a piece at a time as space frees up.</summary>
        private static bool Send(byte[] m, int length)
        {
            StoreByteRing ring = StoreByteRing.Requests(s_page);
            int done = 0;
            while (done < length)
            {
                if (ring.Write(new ReadOnlySpan<byte>(m, done, length - done), out int written) != StoreRingStatus.Ok) return false;
                done += written;
                Events.Send(s_port);
                if (done < length) WaitForStore();
            }
            return true;
        }

        /// <summary>
        /// Reads one whole message (header, then its payload) into s_message if one is there, waiting for the
        /// rest of a message once its first byte arrived; a watch event is moved aside. False if none is queued.
        /// </summary>
        private static bool ReceiveOne(out StoreMessageHeader header)
        {
            header = default;
            StoreByteRing ring = StoreByteRing.Responses(s_page);
            if (ring.Queued(out uint queued) != StoreRingStatus.Ok || queued == 0) return false;
            byte[] m = s_message;
            ReadExactly(ring, m, 0, StoreMessageHeader.Bytes);
            if (StoreMessageHeader.TryRead(m, out header) == StoreHeaderError.PayloadTooLarge) return false;
            ReadExactly(ring, m, StoreMessageHeader.Bytes, (int)header.Length);
            if (header.Type == (uint)StoreMessageType.WatchEvent)
            {
                int total = StoreMessageHeader.Bytes + (int)header.Length;
                new ReadOnlySpan<byte>(m, 0, total).CopyTo(s_watchEvent);
                s_watchEventLength = total;
            }
            return true;
        }

        private static void ReadExactly(StoreByteRing ring, byte[] into, int offset, int count)
        {
            int done = 0;
            while (done < count)
            {
                ring.Read(new Span<byte>(into, offset + done, count - done), out int read);
                done += read;
                if (read > 0) Events.Send(s_port);
                if (done < count) WaitForStore();
            }
        }

        private static string Text(byte[] m, int offset, int length)
        {
            if (length > 0 && m[offset + length - 1] == 0) length--;
            var chars = new char[length];
            for (int i = 0; i < length; i++) chars[i] = (char)m[offset + i];
            return new string(chars);
        }

        private static string FirstString(byte[] m, int offset, int total)
        {
            int end = offset;
            while (end < total && m[end] != 0) end++;
            return Text(m, offset, end - offset);
        }
    }
}

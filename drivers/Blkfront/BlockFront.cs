using System;
using Keel.Ringlib;
using Keel.Ringlib.Protocols;
using Keel.Ringlib.Xen;
using Keel.Runtime;

namespace Keel.Drivers.Blkfront
{
    /// <summary>One answered request: the caller's token and blkif's status (BLKIF_RSP_*).</summary>
    public readonly struct FrontCompletion
    {
        public ulong Token { get; }

        public BlkifStatus Status { get; }

        public FrontCompletion(ulong token, BlkifStatus status)
        {
            Token = token;
            Status = status;
        }
    }

    /// <summary>
    /// blkfront for Keel's domains: one virtual block device (xvdX) served by whichever back-end the store
    /// names, as Linux's xen-blkfront speaks to it (io/blkif.h; the XenBus walk of XenbusHandshake). Requests
    /// are up to MaxPages pages, of the caller's own frames or of the front-end's buffers; each page is granted
    /// to the back-end while its request is out and the grant ended when it is answered, unless persistent
    /// grants are in use (then data is copied through a pool granted once, and buffers are granted once and
    /// used in place). The device outlives its back-end: when the back-end
    /// closes or its domain disappears, every request it did not answer is kept, and when a back-end (the
    /// same one restarted, or an upgrade) reaches InitWait again a fresh ring and port are published and
    /// those requests are put on it again in their original order, before any newer one. Responses are
    /// matched by id and generation, so an answer from a back-end that is gone is never taken for another.
    /// Drive it from the domain's event loop: <see cref="Poll"/> whenever the store's port or <see cref="Port"/>
    /// fires (or on a timer), then <see cref="Reap"/>.
    /// </summary>
    public sealed unsafe class BlockFront
    {
        /// <summary>Requests the front-end holds at once: a one-page ring's 32, twice that per step of ring page order.</summary>
        public int Slots { get; }

        /// <summary>The largest ring page order a front-end asks for (8 pages, 256 requests), as blkback offers.</summary>
        public const int MaxRingPageOrder = 3;

        /// <summary>Pages a request may have: past 11 (io/blkif.h's direct limit) it goes as BLKIF_OP_INDIRECT, with
        /// its segments in a page of its own, if the back-end offers that many (feature-max-indirect-segments).</summary>
        public const int MaxPages = 16;

        private enum SlotState : byte { Free, Queued, OnRing }

        private struct Slot
        {
            internal SlotState State;
            internal BlkifOperation Operation;
            internal ulong Sector;
            internal int Pages;
            internal byte LastSector;
            internal ulong Token;
            internal uint Sequence;
            internal ushort Generation;
        }

        private readonly Slot[] _slots;
        // Free slots (a stack) and queued ones in the order they go on the ring (a circle of Slots entries: a slot is
        // queued at most once), so taking a slot and issuing the oldest are constant time however big the ring.
        private readonly int[] _free;
        private int _freeCount;
        private readonly int[] _queued;
        private int _queuedHead, _queuedCount;
        private readonly ulong[] _indirectVa;
        private readonly ulong[] _indirectFrame;
        private readonly int[] _indirectGrant;
        private int _maxIndirect;

        // Persistent grants (feature-persistent): in a front-end without buffers, a pool page for each page of each
        // slot, granted writable to the back-end once per connection; data is copied between the caller's pages
        // and the pool. A front-end with buffers has no pool: its other requests' pages are granted per request.
        private readonly bool _persistent;
        private readonly ulong[] _poolVa;
        private readonly ulong[] _poolFrame;
        private readonly int[] _poolGrant;
        private readonly ulong[] _callerVa;
        private bool _persistentNow;

        // Buffers: pages of the front-end's own that the caller fills and reads in place (TrySubmitBuffers). With
        // persistent grants each is granted once per connection and no data is copied; otherwise a buffer is
        // granted per request like any other page.
        private readonly ulong[] _bufferVa;
        private readonly ulong[] _bufferFrame;
        private readonly int[] _bufferGrant;
        private readonly int[] _pageBuffer;   // the buffer a request's page is, or -1
        private readonly ulong[] _frames;
        private readonly int[] _grants;
        private readonly int[] _staleGrants;
        private int _staleCount;
        private readonly FrontCompletion[] _done;
        private int _doneCount;
        private uint _nextSequence;

        private readonly string _path;
        private string _backendPath;

        // The store paths read or written on every watch event, made once (per back-end for its state), so a
        // back-end that changes state again and again costs this domain no memory: there is no collector.
        private readonly string _backendKey, _statePath;
        private string _backendStatePath;
        private static string[] s_stateText;
        private ushort _backend;
        private XenbusState _state = XenbusState.Initialising;
        private FrontRing<BlkifRequest, BlkifResponse> _ring;
        private bool _hasRing;
        private uint _port;
        private readonly int _ringPageOrder;
        private readonly int[] _ringRefs = new int[1 << MaxRingPageOrder];
        private int _ringPages;

        /// <summary>Sectors of the device and whether it may only be read, as the back-end said when it connected.</summary>
        public ulong Sectors { get; private set; }

        public bool ReadOnly { get; private set; }

        /// <summary>Whether the back-end offers feature-flush-cache: without it a flush is answered NotSupported here.</summary>
        public bool CanFlush { get; private set; }

        public bool IsConnected => _state == XenbusState.Connected;

        /// <summary>Pages of the ring on the current connection (0 while there is none).</summary>
        public int RingPages => _ringPages;

        /// <summary>The event channel the back-end notifies (0 while there is none).</summary>
        public uint Port => _port;

        /// <summary>
        /// Rings published: one for each back-end (or restart of one) the device was handed to, counted when the
        /// ring goes out rather than when this domain sees the back-end Connected, which it may never see if
        /// that back-end dies first though it served requests; and requests put on a ring again after a
        /// back-end went away.
        /// </summary>
        public int Rings { get; private set; }

        public int Reissued { get; private set; }

        /// <summary>Each time the back-end went away: how long until a request was answered again (ns), the first MaxOutages of them.</summary>
        public const int MaxOutages = 64;
        private readonly ulong[] _outages = new ulong[MaxOutages];
        private ulong _lostAt;

        public int Outages { get; private set; }

        public ulong Outage(int index) => _outages[index];

        /// <summary>Responses ignored: an id out of range, for a request not on the ring, or from an older ring.</summary>
        public int BadResponses { get; private set; }

        public string Name { get; }

        private BlockFront(string name, string path, bool persistent, int buffers, int ringPageOrder)
        {
            Name = name;
            _path = path;
            _backendKey = path + "/backend";
            _statePath = path + "/state";
            _persistent = persistent;
            _ringPageOrder = ringPageOrder;
            Slots = Blkif.RequestsPerPageRing << ringPageOrder;
            _slots = new Slot[Slots];
            _free = new int[Slots];
            for (int i = 0; i < Slots; i++) _free[i] = Slots - 1 - i;
            _freeCount = Slots;
            _queued = new int[Slots];
            _indirectVa = new ulong[Slots];
            _indirectFrame = new ulong[Slots];
            _indirectGrant = new int[Slots];
            _done = new FrontCompletion[Slots];
            _callerVa = new ulong[Slots * MaxPages];
            _pageBuffer = new int[Slots * MaxPages];
            _frames = new ulong[Slots * MaxPages];
            _grants = new int[Slots * MaxPages];
            _staleGrants = new int[Slots * MaxPages * 4];
            for (int i = 0; i < _ringRefs.Length; i++) _ringRefs[i] = -1;
            _bufferVa = new ulong[buffers];
            _bufferFrame = new ulong[buffers];
            _bufferGrant = new int[buffers];
            for (int i = 0; i < buffers; i++) _bufferGrant[i] = -1;
            if (!persistent || buffers > 0) return;
            _poolVa = new ulong[Slots * MaxPages];
            _poolFrame = new ulong[Slots * MaxPages];
            _poolGrant = new int[Slots * MaxPages];
            for (int i = 0; i < _poolVa.Length; i++) _poolGrant[i] = -1;
        }

        /// <summary>Whether this connection has persistent grants (both ends offered them): the pool's pages, or the buffers, granted once.</summary>
        public bool UsesPersistentGrants => _persistentNow;

        /// <summary>Pages of the front-end's own that the caller may fill and read in place (<see cref="TrySubmitBuffers"/>).</summary>
        public int Buffers => _bufferVa.Length;

        /// <summary>Where buffer <paramref name="buffer"/> (0 .. Buffers-1) is in this domain: 4096 bytes, the caller's to use
        /// except while a request that names it is in flight.</summary>
        public ulong BufferAddress(int buffer) => _bufferVa[buffer];

        /// <summary>Takes the pages a request needs besides the caller's: an indirect page per slot, the buffers and the pool.</summary>
        private bool TakePages()
        {
            for (int i = 0; i < _bufferVa.Length; i++)
            {
                _bufferVa[i] = Pages.TakePage(out _bufferFrame[i]);
                if (_bufferVa[i] == 0) return false;
            }
            for (int i = 0; i < Slots; i++)
            {
                _indirectVa[i] = Pages.TakePage(out _indirectFrame[i]);
                _indirectGrant[i] = -1;
                if (_indirectVa[i] == 0) return false;
            }
            if (_poolVa == null) return true;
            for (int i = 0; i < _poolVa.Length; i++)
            {
                _poolVa[i] = Pages.TakePage(out _poolFrame[i]);
                if (_poolVa[i] == 0) return false;
            }
            return true;
        }

        /// <summary>
        /// The front-end of xvd&lt;a + index&gt;: watches its own directory (where the toolstack points it at a
        /// back-end) and starts the handshake. With <paramref name="persistent"/> it offers feature-persistent
        /// (without buffers its copy pool is a page per page of every slot, 2 MiB on a one-page ring);
        /// <paramref name="buffers"/> pages are allocated for <see cref="TrySubmitBuffers"/>; the ring has 2^<paramref name="ringPageOrder"/>
        /// pages (up to MaxRingPageOrder) when the back-end's max-ring-page-order allows, else as many as it does.
        /// Null if the toolstack made no such device, the order is out of range, or the pages cannot be had.
        /// </summary>
        public static BlockFront Open(int index, bool persistent = false, int buffers = 0, int ringPageOrder = 0)
        {
            if (ringPageOrder < 0 || ringPageOrder > MaxRingPageOrder || buffers < 0) return null;
            uint id = (202u << 8) | ((uint)index << 4);
            string path = "device/vbd/" + DomainConsole.Decimal(id);
            StoreClient.Read(path + "/virtual-device", out StoreError error);
            if (error != StoreError.None) return null;
            var front = new BlockFront("xvd" + (char)('a' + index), path, persistent, buffers, ringPageOrder);
            if (!front.TakePages()) return null;
            StoreClient.Watch(path + "/backend", "blkfront");
            front.Follow();
            front.Poll();
            return front;
        }

        /// <summary>
        /// Takes any store event (and then looks again at the back-end: which one, in what state) and the
        /// back-end's responses, and puts queued requests on the ring. The store is read only when a watch
        /// fired: each read is a string, and there is no collector.
        /// </summary>
        public void Poll()
        {
            bool changed = false;
            // Which node fired does not matter (Follow looks at them all): the path is not kept as a string.
            Span<byte> fired = stackalloc byte[64];
            while (StoreClient.PollWatchEvent(fired, out _)) changed = true;
            if (changed) Follow();
            if (!_hasRing) return;
            EndStaleGrants();
            TakeResponses();
            Issue();
        }

        /// <summary>
        /// One turn of an event loop that waits for this device alone: polls, sleeps until its port, the
        /// store's or a 10 ms timer fires, and polls again.
        /// </summary>
        public void Pump()
        {
            Poll();
            Events.WaitUntil(Clock.Now + 10_000_000);
            if (_port != 0) Events.TakePending(_port);
            Events.TakePending(StoreClient.Port);
            Poll();
        }

        /// <summary>Pumps until the handshake reaches Connected or timeoutNs pass; whether it did.</summary>
        public bool WaitConnected(ulong timeoutNs)
        {
            ulong deadline = Clock.Now + timeoutNs;
            while (!IsConnected && Clock.Now < deadline) Pump();
            return IsConnected;
        }

        /// <summary>
        /// Queues a read or write of pages (this domain's machine frames) starting at sector: every page
        /// whole but the last, which holds lastSector + 1 sectors (7 for a whole page). False when every slot
        /// is in use, or the request is malformed (no pages, more than 11, a sector past 2^64).
        /// </summary>
        public bool TrySubmit(BlkifOperation operation, ulong sector, ReadOnlySpan<ulong> frames, byte lastSector, ulong token) =>
            TrySubmit(operation, sector, frames, default, lastSector, token);

        /// <summary>
        /// As the other TrySubmit, with the pages' addresses in this domain too, which a front-end opened with
        /// persistent grants needs to copy the data to and from its pool (the frames are then not granted).
        /// </summary>
        public bool TrySubmit(BlkifOperation operation, ulong sector, ReadOnlySpan<ulong> frames, ReadOnlySpan<ulong> addresses, byte lastSector, ulong token)
        {
            if (_poolVa != null && addresses.Length != frames.Length) return false;
            if (!TryTakeSlot(operation, sector, frames.Length, lastSector, token, out int slot)) return false;
            for (int p = 0; p < frames.Length; p++)
            {
                int at = slot * MaxPages + p;
                _frames[at] = frames[p];
                _pageBuffer[at] = -1;
                if (_poolVa != null) _callerVa[at] = addresses[p];
            }
            return true;
        }

        /// <summary>
        /// Queues a read or write of the front-end's own buffers (indices 0 .. <see cref="Buffers"/>-1), as
        /// TrySubmit does pages. On a connection with persistent grants the data moves in place: nothing is
        /// copied and nothing granted per request. False as TrySubmit, or for a buffer that does not exist.
        /// </summary>
        public bool TrySubmitBuffers(BlkifOperation operation, ulong sector, ReadOnlySpan<int> buffers, byte lastSector, ulong token)
        {
            for (int p = 0; p < buffers.Length; p++)
            {
                if ((uint)buffers[p] >= (uint)_bufferVa.Length) return false;
            }
            if (!TryTakeSlot(operation, sector, buffers.Length, lastSector, token, out int slot)) return false;
            for (int p = 0; p < buffers.Length; p++)
            {
                int at = slot * MaxPages + p;
                _frames[at] = _bufferFrame[buffers[p]];
                _pageBuffer[at] = buffers[p];
            }
            return true;
        }

        /// <summary>
        /// Queues a flush of the disk's write cache (BLKIF_OP_FLUSH_DISKCACHE): once it is answered Okay, every
        /// write answered before it was submitted is on stable storage. Answered NotSupported without reaching
        /// the ring when the back-end does not offer feature-flush-cache. False when every slot is in use.
        /// </summary>
        public bool TrySubmitFlush(ulong token) => TryTakeSlot(BlkifOperation.FlushDiskCache, 0, 0, 0, token, out _);

        /// <summary>A free slot, queued for a request of <paramref name="pages"/> pages; false when none is free or
        /// the request is malformed (a read or write with no pages, more than MaxPages or a last sector past 7,
        /// a flush with pages, any other operation).</summary>
        private bool TryTakeSlot(BlkifOperation operation, ulong sector, int pages, byte lastSector, ulong token, out int slot)
        {
            slot = 0;
            if (operation == BlkifOperation.FlushDiskCache)
            {
                if (pages != 0) return false;
            }
            else if (operation != BlkifOperation.Read && operation != BlkifOperation.Write || pages == 0 || pages > MaxPages || lastSector > 7)
            {
                return false;
            }
            if (_freeCount == 0) return false;
            slot = _free[--_freeCount];
            _queued[(_queuedHead + _queuedCount++) & (Slots - 1)] = slot;
            ref Slot s = ref _slots[slot];
            s.State = SlotState.Queued;
            s.Operation = operation;
            s.Sector = sector;
            s.Pages = pages;
            s.LastSector = lastSector;
            s.Token = token;
            s.Sequence = _nextSequence++;
            for (int p = 0; p < pages; p++) _grants[slot * MaxPages + p] = -1;
            return true;
        }

        /// <summary>Answered requests since the last call, at most completions.Length; returns how many.</summary>
        public int Reap(Span<FrontCompletion> completions)
        {
            int n = Math.Min(completions.Length, _doneCount);
            for (int i = 0; i < n; i++) completions[i] = _done[i];
            for (int i = n; i < _doneCount; i++) _done[i - n] = _done[i];
            _doneCount -= n;
            return n;
        }

        public int InFlight => Slots - _freeCount;

        /// <summary>Reads who the back-end is and what state it is in, and takes the handshake's next step.</summary>
        private void Follow()
        {
            // Read as a string only when it changed: the same back-end as before is the common case.
            string backend = _backendPath;
            if (backend == null || !StoreClient.ReadEquals(_backendKey, backend))
            {
                backend = StoreClient.Read(_backendKey, out StoreError error);
                if (error != StoreError.None) backend = null;
            }
            if (backend != null && backend != _backendPath)
            {
                // Another back-end (the toolstack restarted or upgraded the driver domain): whatever the old one
                // had is let go before the new one is looked at, even if its state says nothing went wrong.
                if (_backendPath != null && _state != XenbusState.Initialising)
                {
                    Disconnect();
                    _state = XenbusState.Initialising;
                    StoreClient.Write(_statePath, StateText(_state));
                }
                _backendPath = backend;
                _backendStatePath = backend + "/state";
                StoreClient.ReadNumber(_path + "/backend-id", out ulong id, out _);
                _backend = (ushort)id;
                StoreClient.Watch(_backendStatePath, "blkfront");
            }
            XenbusState backendState = XenbusState.Unknown;
            if (_backendPath != null && StoreClient.ReadNumber(_backendStatePath, out ulong state, out _) && state <= (ulong)XenbusState.Reconfigured)
            {
                backendState = (XenbusState)state;
            }
            XenbusStep step = XenbusHandshake.FrontendStep(_state, backendState, out XenbusState next);
            switch (step)
            {
                case XenbusStep.PublishRing:
                    if (!PublishRing()) return;
                    break;
                case XenbusStep.Connect:
                    // A back-end that died meanwhile may have no nodes left: what it said before stands.
                    if (StoreClient.ReadNumber(_backendPath + "/sectors", out ulong sectors, out _)) Sectors = sectors;
                    if (StoreClient.ReadNumber(_backendPath + "/info", out ulong info, out _)) ReadOnly = (info & Blkif.VdiskReadOnly) != 0;
                    break;
                case XenbusStep.Disconnect:
                    Disconnect();
                    break;
                default:
                    return;
            }
            _state = next;
            StoreClient.Write(_statePath, StateText(next));
        }

        /// <summary>A state's decimal text, made once for all front-ends.</summary>
        private static string StateText(XenbusState state)
        {
            if (s_stateText == null)
            {
                s_stateText = new string[(int)XenbusState.Reconfigured + 1];
                for (int i = 0; i < s_stateText.Length; i++) s_stateText[i] = DomainConsole.Decimal(i);
            }
            return s_stateText[(int)state];
        }

        /// <summary>
        /// Fresh ring pages granted to the back-end, a fresh port offered to it, all published (Linux's
        /// talk_to_blkback): one page as ring-ref, or 2^N as ring-page-order N and ring-ref0 .. ring-ref(2^N - 1),
        /// N the order asked for at Open or the back-end's max-ring-page-order if that is less.
        /// </summary>
        private bool PublishRing()
        {
            // A back-end that offers no max-ring-page-order takes one page (ReadNumber leaves 0 for a missing node).
            StoreClient.ReadNumber(_backendPath + "/max-ring-page-order", out ulong offeredOrder, out _);
            int order = (int)Math.Min(offeredOrder, (ulong)_ringPageOrder);
            ulong va = 0;
            _ringPages = 1 << order;
            for (int i = 0; i < _ringPages; i++)
            {
                // Taken one after another, the pages are side by side in this domain's address space.
                ulong page = Pages.TakePage(out ulong frame);
                if (page == 0 || (i > 0 && page != va + (ulong)i * Memory.PageSize)) return EndRingGrants();
                if (i == 0) va = page;
                _ringRefs[i] = Grants.Grant(_backend, frame, readOnly: false);
                if (_ringRefs[i] < 0) return EndRingGrants();
            }
            if (!FrontRing<BlkifRequest, BlkifResponse>.TryInitialize((void*)va, (uint)Memory.PageSize << order, out _ring)) return EndRingGrants();
            long port = Events.AllocUnbound(_backend);
            if (port <= 0) return EndRingGrants();
            _port = (uint)port;
            Events.Unmask(_port);
            if (order == 0)
            {
                StoreClient.Write(_path + "/ring-ref", DomainConsole.Decimal(_ringRefs[0]));
            }
            else
            {
                StoreClient.Write(_path + "/ring-page-order", DomainConsole.Decimal(order));
                for (int i = 0; i < _ringPages; i++) StoreClient.Write(_path + "/ring-ref" + DomainConsole.Decimal(i), DomainConsole.Decimal(_ringRefs[i]));
            }
            StoreClient.Write(_path + "/event-channel", DomainConsole.Decimal(port));
            StoreClient.Write(_path + "/protocol", "x86_64-abi");
            // The features are read now, with the ring, not at Connected: requests go on the ring as soon as it
            // is published, and this domain may never see a back-end Connected that dies soon after (the next one's
            // ring is published then, and its features read).
            StoreClient.ReadNumber(_backendPath + "/feature-max-indirect-segments", out ulong maxIndirect, out _);
            _maxIndirect = (int)Math.Min(maxIndirect, MaxPages);
            CanFlush = StoreClient.ReadEquals(_backendPath + "/feature-flush-cache", "1");
            _persistentNow = _persistent && StoreClient.ReadEquals(_backendPath + "/feature-persistent", "1");
            if (_persistent) StoreClient.Write(_path + "/feature-persistent", _persistentNow ? "1" : "0");
            for (int i = 0; _persistentNow && _poolVa != null && i < _poolVa.Length; i++)
            {
                // Writable for good: the back-end keeps these mapped (xen-blkback's persistent_gnts) for reads and writes alike.
                _poolGrant[i] = Grants.Grant(_backend, _poolFrame[i], readOnly: false);
                if (_poolGrant[i] < 0) return false;
            }
            for (int i = 0; _persistentNow && i < _bufferVa.Length; i++)
            {
                _bufferGrant[i] = Grants.Grant(_backend, _bufferFrame[i], readOnly: false);
                if (_bufferGrant[i] < 0) return false;
            }
            _hasRing = true;
            Rings++;
            // Whatever the last back-end never answered goes to this one first, oldest first: ahead of the queue.
            Span<int> again = stackalloc int[Slots];
            int count = 0;
            for (int i = 0; i < Slots; i++)
            {
                if (_slots[i].State != SlotState.OnRing) continue;
                _slots[i].State = SlotState.Queued;
                int at = count++;
                for (; at > 0 && (int)(_slots[again[at - 1]].Sequence - _slots[i].Sequence) > 0; at--) again[at] = again[at - 1];
                again[at] = i;
                Reissued++;
            }
            for (int k = count - 1; k >= 0; k--)
            {
                _queuedHead = (_queuedHead - 1) & (Slots - 1);
                _queued[_queuedHead] = again[k];
                _queuedCount++;
            }
            return true;
        }

        /// <summary>
        /// The back-end is gone or closing: its ring and port are let go, and every grant it may still map is
        /// ended as soon as it no longer does (a back-end that died was unmapped by the kernel already).
        /// </summary>
        private void Disconnect()
        {
            if (!_hasRing) return;
            _hasRing = false;
            if (_lostAt == 0) _lostAt = Clock.Now;
            Events.Close(_port);
            _port = 0;
            EndRingGrants();
            for (int i = 0; _persistentNow && _poolVa != null && i < _poolGrant.Length; i++)
            {
                Stale(_poolGrant[i]);
                _poolGrant[i] = -1;
            }
            for (int i = 0; i < _bufferGrant.Length; i++)
            {
                Stale(_bufferGrant[i]);
                _bufferGrant[i] = -1;
            }
            for (int i = 0; i < Slots; i++)
            {
                Stale(_indirectGrant[i]);
                _indirectGrant[i] = -1;
                if (_slots[i].State != SlotState.OnRing) continue;
                for (int p = 0; p < _slots[i].Pages; p++)
                {
                    Stale(_grants[i * MaxPages + p]);
                    _grants[i * MaxPages + p] = -1;
                }
                // A new ring gives new ids' generations, so late answers for the old ring match nothing.
                _slots[i].Generation++;
            }
            EndStaleGrants();
        }

        /// <summary>Ends the ring pages' grants (as soon as the back-end no longer maps them); false, for the caller to return.</summary>
        private bool EndRingGrants()
        {
            for (int i = 0; i < _ringPages; i++)
            {
                Stale(_ringRefs[i]);
                _ringRefs[i] = -1;
            }
            _ringPages = 0;
            return false;
        }

        private void Stale(int reference)
        {
            if (reference < 0) return;
            if (Grants.EndAccess(reference)) return;
            if (_staleCount < _staleGrants.Length) _staleGrants[_staleCount++] = reference;
        }

        private void EndStaleGrants()
        {
            int kept = 0;
            for (int i = 0; i < _staleCount; i++)
            {
                if (!Grants.EndAccess(_staleGrants[i])) _staleGrants[kept++] = _staleGrants[i];
            }
            _staleCount = kept;
        }

        /// <summary>Queued requests onto the ring, oldest first, while it has room; one notification if the back-end asks.</summary>
        private void Issue()
        {
            if (_state != XenbusState.Connected && _state != XenbusState.Initialised) return;
            bool any = false;
            while (_ring.FreeRequests > 0 && _queuedCount > 0)
            {
                if (!Put(_queued[_queuedHead])) break;
                _queuedHead = (_queuedHead + 1) & (Slots - 1);
                _queuedCount--;
                any = true;
            }
            if (any && _ring.PushRequestsAndCheckNotify()) Events.Send(_port);
        }

        private bool Put(int slot)
        {
            ref Slot s = ref _slots[slot];
            if (s.Operation == BlkifOperation.FlushDiskCache && !CanFlush)
            {
                Finish(slot, BlkifStatus.NotSupported);
                return true;
            }
            bool indirect = s.Pages > Blkif.MaxSegmentsPerRequest;
            if (indirect && s.Pages > _maxIndirect) return false;
            ulong id = (uint)slot | ((ulong)s.Generation << 16);
            BlkifRequest request = default;
            // The device reads the page for a disk write, so the back-end needs it read-only; a read fills it.
            bool readOnly = s.Operation == BlkifOperation.Write;
            for (int p = 0; p < s.Pages; p++)
            {
                int at = slot * MaxPages + p;
                int reference;
                if (_persistentNow && _pageBuffer[at] >= 0)
                {
                    reference = _bufferGrant[_pageBuffer[at]];
                }
                else if (_persistentNow && _poolVa != null)
                {
                    // The caller's page and the pool's are both this domain's, mapped for good: 4096 bytes each.
                    if (s.Operation == BlkifOperation.Write) Buffer.MemoryCopy((void*)_callerVa[at], (void*)_poolVa[at], (long)Memory.PageSize, (long)Memory.PageSize);
                    reference = _poolGrant[at];
                }
                else
                {
                    reference = Grants.Grant(_backend, _frames[at], readOnly);
                    if (reference < 0)
                    {
                        for (int q = 0; q < p; q++)
                        {
                            Stale(_grants[slot * MaxPages + q]);
                            _grants[slot * MaxPages + q] = -1;
                        }
                        return false;
                    }
                    _grants[at] = reference;
                }
                byte last = p == s.Pages - 1 ? s.LastSector : (byte)7;
                var segment = new BlkifSegment((uint)reference, 0, last);
                // An indirect request's segments live in its indirect page, 8 bytes each (struct blkif_request_segment).
                if (indirect) ((BlkifSegment*)_indirectVa[slot])[p] = segment;
                else request.SetSegment(p, segment);
            }
            if (indirect)
            {
                _indirectGrant[slot] = Grants.Grant(_backend, _indirectFrame[slot], readOnly: true);
                if (_indirectGrant[slot] < 0) return false;
                BlkifIndirectRequest ind = default;
                ind.Operation = (byte)BlkifOperation.Indirect;
                ind.IndirectOperation = (byte)s.Operation;
                ind.SegmentCount = (ushort)s.Pages;
                ind.Id = id;
                ind.SectorNumber = s.Sector;
                ind.SetIndirectGrant(0, (uint)_indirectGrant[slot]);
                request = BlkifRequest.FromIndirect(ind);
            }
            else
            {
                request.Operation = (byte)s.Operation;
                request.SegmentCount = (byte)s.Pages;
                request.Id = id;
                request.SectorNumber = s.Sector;
            }
            if (!_ring.TryWriteRequest(request)) return false;
            s.State = SlotState.OnRing;
            return true;
        }

        private void TakeResponses()
        {
            do
            {
                while (_doneCount < Slots && _ring.TryTakeResponse(out BlkifResponse response)) Complete(response);
            } while (_doneCount < Slots && _ring.FinalCheckForResponses());
        }

        /// <summary>Checks the response's id against the request it names (front-ends check ids: ARCHITECTURE.md, Trust).</summary>
        private void Complete(in BlkifResponse response)
        {
            ulong slot = response.Id & 0xFFFF;
            if (slot >= (ulong)Slots || _slots[slot].State != SlotState.OnRing || (ushort)(response.Id >> 16) != _slots[slot].Generation || (response.Id >> 32) != 0)
            {
                BadResponses++;
                return;
            }
            ref Slot s = ref _slots[(int)slot];
            for (int p = 0; p < s.Pages; p++)
            {
                int at = (int)slot * MaxPages + p;
                // As in Put: both pages are this domain's, 4096 bytes each.
                if (_persistentNow && _poolVa != null && _pageBuffer[at] < 0 && s.Operation == BlkifOperation.Read) Buffer.MemoryCopy((void*)_poolVa[at], (void*)_callerVa[at], (long)Memory.PageSize, (long)Memory.PageSize);
                Stale(_grants[at]);
                _grants[at] = -1;
            }
            Stale(_indirectGrant[(int)slot]);
            _indirectGrant[(int)slot] = -1;
            Finish((int)slot, (BlkifStatus)response.Status);
            if (_lostAt != 0)
            {
                if (Outages < MaxOutages) _outages[Outages] = Clock.Now - _lostAt;
                Outages++;
                _lostAt = 0;
            }
        }

        /// <summary>The slot's request is answered (by the back-end, or here): its slot is free and a new generation's.</summary>
        private void Finish(int slot, BlkifStatus status)
        {
            ref Slot s = ref _slots[slot];
            s.State = SlotState.Free;
            s.Generation++;
            _free[_freeCount++] = slot;
            _done[_doneCount++] = new FrontCompletion(s.Token, status);
        }
    }
}

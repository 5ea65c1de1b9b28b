using System;
using Keel.Ringlib.Protocols;

namespace Keel.Blkback.Core;

/// <summary>Turning one copied ring slot into a pending request, or into an immediate refusal.</summary>
public sealed partial class VirtualBlockDevice
{
    /// <summary>Parse, then act (xen-blkback's dispatch_rw_block_io and its fail_response path): every rule
    /// is checked on the private copy <paramref name="slot"/> before a page is mapped, and a request that
    /// breaks one is answered at once without reaching the disk.</summary>
    private void Take(in BlkifRequest slot)
    {
        Statistics.Requests++;
        BlkifRequestError error = BlkifRequestParser.Parse(slot, _limits, out BlkifValidRequest valid);
        if (error != BlkifRequestError.None)
        {
            Refuse(slot, error);
            return;
        }

        // Two requests in flight under one id could not be told apart in the responses.
        if (_idsInFlight.TryGet(valid.Id, out _))
        {
            Statistics.DuplicateIds++;
            Respond(valid.Id, (byte)valid.Operation, BlkifStatus.Error);
            return;
        }

        int index = _freePending.Pop();
        PendingRequest request = _pending[index];
        // The parser held SegmentCount to the limits the storage was reserved for.
        request.UseSegments(valid.SegmentCount);
        if (!TryCopySegments(ref valid, request, out BlkifRequestError segmentError))
        {
            Release(index, valid, segmentError);
            return;
        }

        // Its pages are mapped with those of every other request this pass takes (MapTaken); its id is in
        // flight from now, so a second request with it in the same pass is refused too.
        request.Accept(valid, _extent.Start);
        _idsInFlight.TryAdd(valid.Id, index);
        _taken[_takenCount++] = index;
    }

    /// <summary>Maps the pages of the requests this pass took, in as few calls as the mapper can, then queues
    /// each for the disk in the order taken, or answers it with an error if a page would not map.</summary>
    private void MapTaken()
    {
        if (_takenCount == 0)
        {
            return;
        }

        ReadOnlySpan<int> taken = new ReadOnlySpan<int>(_taken, 0, _takenCount);
        Span<bool> mapped = new Span<bool>(_takenMapped, 0, _takenCount);
        _mapper.Map(taken, _pending, mapped);
        for (int i = 0; i < taken.Length; i++)
        {
            int index = taken[i];
            PendingRequest request = _pending[index];
            if (mapped[i])
            {
                _queue.Enqueue(index);
                CountAccepted(request);
                continue;
            }

            Statistics.GrantMapFailures++;
            Free(index);
            Respond(request.Id, request.ResponseOperation, BlkifStatus.Error);
        }

        _takenCount = 0;
    }

    /// <summary>Copies the segments into the request's private array: from the slot copy for a direct
    /// request, from the indirect pages (read once, then checked) for an indirect one.</summary>
    private bool TryCopySegments(ref BlkifValidRequest valid, PendingRequest request, out BlkifRequestError error)
    {
        error = BlkifRequestError.None;
        if (!valid.IsIndirect)
        {
            for (int i = 0; i < valid.SegmentCount; i++)
            {
                request.Wire[i] = valid.Slot.GetSegment(i);
            }

            return true;
        }

        if (!_mapper.TryReadIndirect(valid.Slot.AsIndirect(), valid.SegmentCount, request.Wire))
        {
            Statistics.IndirectPageFailures++;
            return false;
        }

        error = BlkifRequestParser.ValidateIndirectSegments(ref valid, new ReadOnlySpan<BlkifSegment>(request.Wire, 0, valid.SegmentCount), _limits);
        if (error != BlkifRequestError.None)
        {
            Statistics.CountRefusal(error);
            return false;
        }

        return true;
    }

    /// <summary>Gives a request that failed after it took a pending slot back, and answers it with an error
    /// (<paramref name="error"/>'s status when the parser named one).</summary>
    private void Release(int index, in BlkifValidRequest valid, BlkifRequestError error)
    {
        _pending[index].InUse = false;
        _freePending.TryPush(index);
        BlkifStatus status = error == BlkifRequestError.None ? BlkifStatus.Error : BlkifRequestParser.ResponseStatus(error);
        Respond(valid.Id, (byte)valid.Operation, status);
    }

    /// <summary>Answers a request the parser refused, with EOPNOTSUPP or an error as it says.</summary>
    private void Refuse(in BlkifRequest slot, BlkifRequestError error)
    {
        Statistics.CountRefusal(error);
        // The real operation of an indirect request, as xen-blkback answers it.
        byte operation = slot.Operation == (byte)BlkifOperation.Indirect ? slot.AsIndirect().IndirectOperation : slot.Operation;
        Respond(slot.Id, operation, BlkifRequestParser.ResponseStatus(error));
    }

    private void CountAccepted(PendingRequest request)
    {
        if (request.Indirect)
        {
            Statistics.IndirectRequests++;
        }

        if (request.ResponseOperation == (byte)BlkifOperation.Read)
        {
            Statistics.Reads++;
        }
        else if (request.ResponseOperation == (byte)BlkifOperation.Write)
        {
            Statistics.Writes++;
        }
        else
        {
            Statistics.Flushes++;
        }
    }
}

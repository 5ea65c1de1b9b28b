using System.Collections.Generic;
using Keel.Drivers.Virtio;

namespace Keel.Drivers.Tests.Model;

/// <summary>One buffer of a chain as the device found it.</summary>
public readonly record struct ModelBuffer(ulong Bus, uint Length, bool Writable);

/// <summary>A chain the device took off the available ring and has not yet returned.</summary>
public sealed record ModelChain(ushort Head, List<ModelBuffer> Buffers, List<int> Descriptors);

/// <summary>
/// The device's side of a split virtqueue (virtio 1.2 2.7), reading and writing the driver's rings through
/// the model bus, and checking the driver on the way: every chain is walked with the spec's rules (2.7.5,
/// 2.7.5.3: bounded length, next in range, indirect tables not nested and not combined with NEXT, readable
/// before writable), and a descriptor handed over while a chain holding it is still with the device is a
/// violation. Problems are recorded in <see cref="Violations"/>, which every test expects to stay empty.
/// </summary>
public sealed class ModelVirtqueue
{
    private readonly ModelDma _dma;
    private readonly HashSet<int> _held = new();   // ring descriptors in chains the device holds
    private ushort _nextAvailable;                  // the device's last_avail_idx
    private ushort _usedIndex;

    public ModelVirtqueue(ModelDma dma, ushort size, ulong descriptors, ulong available, ulong used, bool eventIndex)
    {
        _dma = dma;
        Size = size;
        DescriptorTable = descriptors;
        AvailableRing = available;
        UsedRing = used;
        EventIndex = eventIndex;
    }

    public ushort Size { get; }
    public ulong DescriptorTable { get; }
    public ulong AvailableRing { get; }
    public ulong UsedRing { get; }
    public bool EventIndex { get; }

    public List<string> Violations { get; } = new();
    public int IndirectChains { get; private set; }

    /// <summary>The pages the indirect tables the driver handed over lie on.</summary>
    public HashSet<ulong> IndirectTablePages { get; } = new();

    /// <summary>Whether the device asks for no notifications (VIRTQ_USED_F_NO_NOTIFY, without EVENT_IDX).</summary>
    public bool SuppressNotifications
    {
        set => _dma.Write16(UsedRing + VirtqueueLayout.RingFlags, value ? VirtqueueLayout.UsedNoNotify : (ushort)0);
    }

    /// <summary>Takes every chain the driver has made available.</summary>
    public List<ModelChain> TakeAvailable()
    {
        var chains = new List<ModelChain>();
        ushort driverIndex = _dma.Read16(AvailableRing + VirtqueueLayout.RingIndex);
        if ((ushort)(driverIndex - _nextAvailable) > Size)
        {
            Violations.Add($"avail idx {driverIndex} is more than a ring ahead of {_nextAvailable}");
            return chains;
        }

        while (_nextAvailable != driverIndex)
        {
            ushort head = _dma.Read16(AvailableRing + (ulong)(VirtqueueLayout.RingEntries + 2 * (_nextAvailable % Size)));
            _nextAvailable++;
            ModelChain chain = Walk(head);
            if (chain != null)
            {
                chains.Add(chain);
            }
        }

        if (EventIndex)
        {
            // 2.7.10: ask to be notified when the driver makes the next entry available.
            _dma.Write16(UsedRing + (ulong)VirtqueueLayout.AvailableEvent(Size), _nextAvailable);
        }

        return chains;
    }

    /// <summary>Returns <paramref name="chain"/> on the used ring with <paramref name="written"/> bytes;
    /// says whether the driver wants an interrupt for it (2.7.7, 2.7.10).</summary>
    public bool Complete(ModelChain chain, uint written)
    {
        foreach (int descriptor in chain.Descriptors)
        {
            _held.Remove(descriptor);
        }

        return PushUsed(chain.Head, written);
    }

    /// <summary>Puts a used entry with any id on the ring, as a broken device might.</summary>
    public bool PushUsed(uint id, uint written)
    {
        ulong entry = UsedRing + (ulong)(VirtqueueLayout.RingEntries + VirtqueueLayout.UsedEntrySize * (_usedIndex % Size));
        _dma.Write32(entry, id);
        _dma.Write32(entry + 4, written);
        ushort old = _usedIndex;
        _usedIndex++;
        _dma.Write16(UsedRing + VirtqueueLayout.RingIndex, _usedIndex);
        if (EventIndex)
        {
            ushort usedEvent = _dma.Read16(AvailableRing + (ulong)VirtqueueLayout.UsedEvent(Size));
            return (ushort)(_usedIndex - usedEvent - 1) < (ushort)(_usedIndex - old);
        }

        return (_dma.Read16(AvailableRing + VirtqueueLayout.RingFlags) & VirtqueueLayout.AvailableNoInterrupt) == 0;
    }

    private ModelChain Walk(ushort head)
    {
        if (head >= Size)
        {
            Violations.Add($"head {head} out of range");
            return null;
        }

        var chain = new ModelChain(head, new List<ModelBuffer>(), new List<int>());
        ulong table = DescriptorTable;
        int limit = Size;
        int index = head;
        bool indirect = false;
        for (int steps = 0; ; steps++)
        {
            if (steps >= limit || index >= limit)
            {
                Violations.Add($"chain at {head} runs past {limit} descriptors");
                return null;
            }

            ulong at = table + (ulong)(VirtqueueLayout.DescriptorSize * index);
            ulong address = _dma.Read64(at);
            uint length = _dma.Read32(at + VirtqueueLayout.DescriptorLength);
            ushort flags = _dma.Read16(at + VirtqueueLayout.DescriptorFlags);
            ushort next = _dma.Read16(at + VirtqueueLayout.DescriptorNext);
            if (!indirect && !_held.Add(index))
            {
                Violations.Add($"descriptor {index} handed over again while still with the device");
            }

            if (!indirect)
            {
                chain.Descriptors.Add(index);
            }

            if ((flags & VirtqueueLayout.FlagIndirect) != 0)
            {
                if (indirect || (flags & VirtqueueLayout.FlagNext) != 0 || length % VirtqueueLayout.DescriptorSize != 0 || length == 0 || length / VirtqueueLayout.DescriptorSize > Size)
                {
                    Violations.Add($"bad indirect descriptor at {index} (flags {flags}, length {length})");
                    return null;
                }

                indirect = true;
                IndirectChains++;
                IndirectTablePages.Add(address / 4096);
                table = address;
                limit = (int)(length / VirtqueueLayout.DescriptorSize);
                index = 0;
                steps = -1;
                continue;
            }

            bool writable = (flags & VirtqueueLayout.FlagWrite) != 0;
            if (chain.Buffers.Count > 0 && chain.Buffers[^1].Writable && !writable)
            {
                Violations.Add($"readable buffer after a writable one in chain {head}");
            }

            chain.Buffers.Add(new ModelBuffer(address, length, writable));
            if ((flags & VirtqueueLayout.FlagNext) == 0)
            {
                return chain;
            }

            index = next;
        }
    }
}

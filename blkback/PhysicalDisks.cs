using System;
using Keel.Drivers;
using Keel.Drivers.Pci;
using Keel.Drivers.Platform;
using Keel.Drivers.Virtio;
using Keel.Runtime;

namespace Keel.Blkback
{
    /// <summary>
    /// The virtio-blk devices this domain was given, started in bus order and named vda, vdb, ... (the
    /// manifest's disk targets count the same way), each with its interrupt line mapped and bound to a port.
    /// </summary>
    internal static class PhysicalDisks
    {
        internal const int MaxDisks = 8;

        /// <summary>Requests in flight per disk: the queue size asked of the device.</summary>
        private const ushort QueueSize = 128;

        /// <summary>Segments a request to the device may have: a merged run of blkif requests, or one indirect request of 64 pages.</summary>
        internal const int MaxSegments = 64;

        internal static readonly VirtioBlock[] Disks = new VirtioBlock[MaxDisks];
        private static readonly int[] s_pirq = new int[MaxDisks];
        private static readonly uint[] s_port = new uint[MaxDisks];

        internal static int Count { get; private set; }

        internal static DmaMemory Dma { get; } = new DomainDma();

        /// <summary>Finds and starts every virtio-blk function on the buses this domain can see.</summary>
        internal static void Start()
        {
            var config = new HypercallPciConfig();
            var mmio = new DomainMmio();
            Span<PciFunction> found = stackalloc PciFunction[32];
            int functions = PciEnumerator.Enumerate(config, 0, found);
            for (int i = 0; i < functions && Count < MaxDisks; i++)
            {
                if (!VirtioPciIds.TryGetDeviceType(found[i], out ushort type) || type != VirtioPciIds.TypeBlock) continue;
                string name = Name(Count);
                if (!VirtioPciTransport.TryOpen(config, found[i], mmio, out VirtioPciTransport transport, out VirtioFailure failure)
                    || !VirtioBlock.TryStart(transport, Dma, QueueSize, MaxSegments, out VirtioBlock disk, out failure))
                {
                    DomainConsole.WriteLine("blkback: " + found[i].Address.ToString() + " is virtio-blk but would not start: " + Describe(failure));
                    continue;
                }
                long port = BindLine(found[i].InterruptLine, out int pirq);
                if (port < 0)
                {
                    DomainConsole.WriteLine("blkback: " + name + ": its interrupt line " + DomainConsole.Decimal(found[i].InterruptLine) + " could not be bound: " + DomainConsole.Decimal(port));
                    continue;
                }
                Disks[Count] = disk;
                s_pirq[Count] = pirq;
                s_port[Count] = (uint)port;
                Count++;
                DomainConsole.WriteLine("blkback: " + name + " is " + found[i].Address.ToString() + ": " + DomainConsole.Decimal((long)disk.Capacity) + " sectors"
                    + (disk.IsReadOnly ? ", read-only" : "") + (disk.HasWriteCache ? ", write cache" : "") + ", queue of " + DomainConsole.Decimal(disk.QueueDepth)
                    + (disk.UsesIndirectDescriptors ? " with indirect descriptors" : "") + ", line " + DomainConsole.Decimal(found[i].InterruptLine));
            }
            if (Count == 0) DomainConsole.WriteLine("blkback: no virtio-blk device was given to this domain");
        }

        /// <summary>vda for 0, vdb for 1, ...</summary>
        internal static string Name(int index) => "vd" + (char)('a' + index);

        /// <summary>The line's port, for the event loop to wait on.</summary>
        internal static uint PortOf(int index) => s_port[index];

        /// <summary>
        /// Serves disk index's interrupt if its port fired: the ISR read lowers the line (virtio 1.2, 4.1.4.5),
        /// and only then is the interrupt ended, so the unmasked line does not fire again at once.
        /// </summary>
        internal static bool TakeInterrupt(int index)
        {
            if (!Events.TakePending(s_port[index])) return false;
            Disks[index].HandleInterrupt();
            Physdev.EndOfInterrupt(s_pirq[index]);
            return true;
        }

        /// <summary>Serves whichever disks' interrupts fired.</summary>
        internal static void TakeAllInterrupts()
        {
            for (int i = 0; i < Count; i++) TakeInterrupt(i);
        }

        private static long BindLine(int line, out int pirq)
        {
            pirq = -1;
            long mapped = Physdev.MapGsi(line);
            if (mapped < 0) return mapped;
            pirq = (int)mapped;
            long port = Events.BindPirq(pirq);
            if (port > 0) Events.Unmask((uint)port);
            return port;
        }

        private static string Describe(VirtioFailure failure) => failure switch
        {
            VirtioFailure.CapabilityMissing => "a virtio capability is missing",
            VirtioFailure.MappingRefused => "mapping its registers was refused",
            VirtioFailure.PciAccessRefused => "its configuration space was refused",
            VirtioFailure.ResetTimedOut => "it did not reset",
            VirtioFailure.Version1NotOffered => "it does not offer VIRTIO_F_VERSION_1",
            VirtioFailure.FeaturesRefused => "it refused the features",
            VirtioFailure.QueueUnavailable => "its queue is unavailable",
            VirtioFailure.OutOfDmaMemory => "out of DMA memory",
            _ => "failure " + DomainConsole.Decimal((long)failure),
        };
    }
}

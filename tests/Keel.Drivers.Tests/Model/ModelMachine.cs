using System;
using Keel.Drivers.Pci;
using Keel.Drivers.Virtio;

namespace Keel.Drivers.Tests.Model;

/// <summary>
/// A model machine with one virtio-blk device at 00:03.0, and the steps a driver domain takes to bring it
/// up: enumerate, open the transport, start the block driver.
/// </summary>
public sealed class ModelMachine : IDisposable
{
    public const ulong DefaultFeatures =
        VirtioFeatures.Version1 | VirtioFeatures.IndirectDescriptors | VirtioFeatures.EventIndex
        | VirtioBlockConfiguration.FeatureFlush | VirtioBlockConfiguration.FeatureBlockSize
        | VirtioBlockConfiguration.FeatureSegMax | VirtioBlockConfiguration.FeatureSizeMax;

    public static readonly PciAddress DeviceAddress = ModelPciBus.At(0, 3, 0);

    public ModelMachine(ulong features = DefaultFeatures, ulong sectors = 2048)
    {
        Device = new ModelVirtioBlock(Dma, sectors, features);
        Device.Attach(Bus, DeviceAddress, Mmio);
    }

    public ModelPciBus Bus { get; } = new();
    public ModelMmio Mmio { get; } = new();
    public ModelDma Dma { get; } = new();
    public ModelVirtioBlock Device { get; }

    public PciFunction FindDevice()
    {
        Span<PciFunction> found = new PciFunction[16];
        int count = PciEnumerator.Enumerate(Bus, 0, found);
        for (int i = 0; i < count; i++)
        {
            if (VirtioPciIds.TryGetDeviceType(found[i], out ushort type) && type == VirtioPciIds.TypeBlock)
            {
                return found[i];
            }
        }

        throw new InvalidOperationException("no virtio-blk device found");
    }

    public VirtioPciTransport OpenTransport()
    {
        if (!VirtioPciTransport.TryOpen(Bus, FindDevice(), Mmio, out VirtioPciTransport transport, out VirtioFailure failure))
        {
            throw new InvalidOperationException($"transport: {failure}");
        }

        return transport;
    }

    public VirtioFailure TryStart(out VirtioBlock block, ushort queueSize = 64, int maxSegments = 16) =>
        VirtioBlock.TryStart(OpenTransport(), Dma, queueSize, maxSegments, out block, out VirtioFailure failure) ? VirtioFailure.None : failure;

    public VirtioBlock Start(ushort queueSize = 64, int maxSegments = 16)
    {
        VirtioFailure failure = TryStart(out VirtioBlock block, queueSize, maxSegments);
        if (failure != VirtioFailure.None)
        {
            throw new InvalidOperationException($"start: {failure}");
        }

        return block;
    }

    public void Dispose() => Dma.Dispose();
}

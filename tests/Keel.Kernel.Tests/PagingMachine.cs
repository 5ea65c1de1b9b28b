using Keel.Ringlib.Xen;
using Keel.Kernel.Memory;
using Keel.Kernel.Paging;

namespace Keel.Kernel.Tests;

/// <summary>Physical memory of a small machine: one array, 512 words a frame.</summary>
internal struct FrameMemory : IPhysicalMemory
{
    public ulong[] Words;

    public Span<ulong> Table(ulong physicalAddress)
    {
        Assert.Equal(0UL, physicalAddress % 4096);
        return Words.AsSpan(checked((int)(physicalAddress / 8)), 512);
    }
}

/// <summary>I/O rights: one domain may map the frames of one range, and so counts as I/O-capable.</summary>
internal struct TestIo : IIoPermissions
{
    public ushort Domain;
    public ulong First;
    public ulong Count;

    public static TestIo None => new() { Domain = DomainIds.Invalid };

    public bool MayMapIo(ushort domain, ulong mfn) => domain == Domain && mfn >= First && mfn < First + Count;

    public bool HasIoAccess(ushort domain) => domain == Domain;
}

/// <summary>
/// A machine of <see cref="FrameCount"/> frames: frame 0 and the top <see cref="HypervisorFrames"/> are the
/// hypervisor's (the L4 template points there), the <see cref="IoFrames"/> below them are I/O memory, the
/// rest RAM for domains.
/// </summary>
internal sealed class PagingMachine
{
    public const int HypervisorFrames = 4;
    public const int IoFrames = 4;

    public readonly int FrameCount;
    public readonly FrameAllocator Allocator;
    public readonly FrameTable Frames;
    public readonly FrameMemory Memory;
    public readonly DirectPaging<FrameMemory, TestIo> Paging;
    public readonly ulong[] Template = new ulong[EntryRules.HypervisorSlots];

    /// <summary>The frames of the machine-to-physical table, among the hypervisor's.</summary>
    public readonly List<ulong> M2pFrames = [];
    public readonly ulong FreeAtStart;

    public PagingMachine(int frames = 128, int domains = 4, TestIo? io = null, uint quota = 64)
    {
        FrameCount = frames;
        Allocator = new FrameAllocator((ulong)frames * 4096);
        Allocator.AddUsable(0, (ulong)(frames - HypervisorFrames - IoFrames) * 4096);
        Frames = new FrameTable(Allocator, domains);
        Frames.MarkIo(FirstIoFrame, IoFrames);
        for (ushort d = 0; d < domains; d++) Frames.SetQuota(d, quota);
        Memory = new FrameMemory { Words = new ulong[frames * 512] };
        for (int i = 0; i < Template.Length; i++)
        {
            ulong frame = (ulong)(frames - HypervisorFrames + i % HypervisorFrames);
            Template[i] = (frame << 12) | EntryRules.Present | (i == 0 ? EntryRules.User : EntryRules.Writable);
        }
        for (int page = 0; page * 512 < frames; page++) M2pFrames.Add((ulong)(frames - HypervisorFrames + page));
        Paging = new DirectPaging<FrameMemory, TestIo>(Frames, Memory, io ?? TestIo.None, Template, [.. M2pFrames]);
        FreeAtStart = Allocator.FreeFrames;
    }

    public ulong FirstIoFrame => (ulong)(FrameCount - HypervisorFrames - IoFrames);

    public Span<ulong> Table(ulong mfn) => Memory.Table(mfn * 4096);

    public ref ulong M2p(ulong mfn) => ref Table(M2pFrames[(int)(mfn / 512)])[(int)(mfn % 512)];

    public ulong Frame(ushort domain)
    {
        Assert.Equal(0, Paging.AllocateFrame(domain, out ulong mfn));
        return mfn;
    }

    public long Release(ushort domain, ulong mfn)
    {
        TlbFlush flush = default;
        return Paging.ReleaseFrame(domain, mfn, ref flush);
    }

    public long Update(ushort domain, ulong table, int index, ulong value, uint command = MmuUpdateRequest.NormalPtUpdate) =>
        Update(domain, table, index, value, out _, command);

    public long Update(ushort domain, ulong table, int index, ulong value, out TlbFlush flush, uint command = MmuUpdateRequest.NormalPtUpdate)
    {
        flush = default;
        var request = new MmuUpdateRequest { Ptr = table * 4096 + (ulong)index * 8 + command, Val = value };
        return Paging.MmuUpdate(domain, [request], DomainIds.Self, out _, ref flush);
    }

    public long ExtOp(ushort domain, ref VcpuTables vcpu, uint command, ulong arg1 = 0, ulong arg2 = 0) =>
        ExtOp(domain, ref vcpu, command, out _, arg1, arg2);

    public long ExtOp(ushort domain, ref VcpuTables vcpu, uint command, out TlbFlush flush, ulong arg1 = 0, ulong arg2 = 0)
    {
        flush = default;
        var op = new MmuExtRequest { Cmd = command, Arg1 = arg1, Arg2 = arg2 };
        return Paging.MmuExtOp(domain, ref vcpu, [op], DomainIds.Self, out _, ref flush);
    }

    public long Pin(ushort domain, ulong mfn, int level)
    {
        var none = new VcpuTables();
        return ExtOp(domain, ref none, MmuExtRequest.PinL1Table + (uint)(level - 1), mfn);
    }

    public long Unpin(ushort domain, ulong mfn)
    {
        var none = new VcpuTables();
        return ExtOp(domain, ref none, MmuExtRequest.UnpinTable, mfn);
    }

    public static ulong Entry(ulong mfn, ulong flags) => (mfn << 12) | flags;
}

/// <summary>A domain as <see cref="GuestBuilder"/> leaves it.</summary>
internal sealed class Guest
{
    public ushort Domain;
    public ulong VirtBase;
    public ulong L4, L3, L2, L1;
    public ulong[] Data = [];
    public VcpuTables Vcpu;

    public ulong[] AllFrames => [.. Data, L4, L3, L2, L1];

    /// <summary>The virtual address at which frame number <paramref name="i"/> of <see cref="AllFrames"/> is mapped.</summary>
    public ulong Va(int i) => VirtBase + (ulong)i * 4096;
}

/// <summary>
/// Builds a domain's initial tables the way Xen's domain builder does for a 64-bit PV guest
/// (tools/libs/guest/xg_dom_x86.c): one L4, L3, L2 and L1, mapping from virt_base first the data frames
/// read-write, then the table frames read-only; then the L4 is pinned, which validates the tree, and made
/// the vCPU's base. It uses only the production API: AllocateFrame, WriteInitialEntry, PinTable,
/// NewBasePointer, and the M2P.
/// </summary>
internal static class GuestBuilder
{
    public const ulong VirtBase = 0xFFFFFFFF80000000;

    public static Guest Build(PagingMachine machine, ushort domain, int dataFrames)
    {
        var paging = machine.Paging;
        var guest = new Guest { Domain = domain, VirtBase = VirtBase };
        guest.Data = new ulong[dataFrames];
        for (int i = 0; i < dataFrames; i++) guest.Data[i] = machine.Frame(domain);
        guest.L4 = machine.Frame(domain);
        guest.L3 = machine.Frame(domain);
        guest.L2 = machine.Frame(domain);
        guest.L1 = machine.Frame(domain);

        const ulong table = EntryRules.Present | EntryRules.Writable | EntryRules.User;
        Assert.Equal(0, paging.WriteInitialEntry(domain, guest.L4, EntryRules.IndexOf(VirtBase, 4), PagingMachine.Entry(guest.L3, table)));
        Assert.Equal(0, paging.WriteInitialEntry(domain, guest.L3, EntryRules.IndexOf(VirtBase, 3), PagingMachine.Entry(guest.L2, table)));
        Assert.Equal(0, paging.WriteInitialEntry(domain, guest.L2, EntryRules.IndexOf(VirtBase, 2), PagingMachine.Entry(guest.L1, table)));
        ulong[] frames = guest.AllFrames;
        for (int i = 0; i < frames.Length; i++)
        {
            ulong flags = EntryRules.Present | (i < dataFrames ? EntryRules.Writable : 0);
            Assert.Equal(0, paging.WriteInitialEntry(domain, guest.L1, EntryRules.IndexOf(guest.Va(i), 1), PagingMachine.Entry(frames[i], flags)));
            machine.M2p(frames[i]) = (ulong)i;
        }

        Assert.Equal(0, paging.PinTable(domain, guest.L4, PageType.L4));
        TlbFlush flush = default;
        Assert.Equal(0, paging.NewBasePointer(domain, ref guest.Vcpu, guest.L4, ref flush));
        return guest;
    }
}

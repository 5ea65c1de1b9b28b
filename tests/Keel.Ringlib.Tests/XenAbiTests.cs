using System.Runtime.CompilerServices;
using Xunit;
using System.Runtime.InteropServices;
using Keel.Ringlib.Xen;

namespace Keel.Ringlib.Tests;

/// <summary>The guest-visible ABI pinned to Xen's public headers: numbers and the offsets a guest compiled against them uses.</summary>
public class XenAbiTests
{
    [Fact]
    public void Hypercall_numbers_are_Xens()
    {
        (HypercallNumber Number, ulong Xen)[] expected =
        [
            (HypercallNumber.SetTrapTable, 0), (HypercallNumber.MmuUpdate, 1), (HypercallNumber.SetGdt, 2), (HypercallNumber.StackSwitch, 3),
            (HypercallNumber.SetCallbacks, 4), (HypercallNumber.FpuTaskswitch, 5), (HypercallNumber.MemoryOp, 12), (HypercallNumber.Multicall, 13),
            (HypercallNumber.UpdateVaMapping, 14), (HypercallNumber.SetTimerOp, 15), (HypercallNumber.XenVersion, 17), (HypercallNumber.ConsoleIo, 18),
            (HypercallNumber.GrantTableOp, 20), (HypercallNumber.VmAssist, 21), (HypercallNumber.Iret, 23), (HypercallNumber.VcpuOp, 24),
            (HypercallNumber.SetSegmentBase, 25), (HypercallNumber.MmuextOp, 26), (HypercallNumber.SchedOp, 29), (HypercallNumber.CallbackOp, 30),
            (HypercallNumber.EventChannelOp, 32), (HypercallNumber.PhysdevOp, 33), (HypercallNumber.Sysctl, 35), (HypercallNumber.Domctl, 36),
        ];
        Assert.All(expected, e => Assert.Equal(e.Xen, (ulong)e.Number));
        Assert.Equal(-38, Errno.ENOSYS);
        Assert.Equal(-14, Errno.EFAULT);
        Assert.Equal(-22, Errno.EINVAL);
        Assert.Equal(-1, Errno.EPERM);
    }

    [Fact]
    public void Start_info_has_Xens_x86_64_layout()
    {
        Assert.Equal(1168, Unsafe.SizeOf<StartInfo>());
        (string Field, int Offset)[] offsets =
        [
            ("NrPages", 32), ("SharedInfo", 40), ("Flags", 48), ("StoreMfn", 56), ("StoreEvtchn", 64), ("ConsoleMfn", 72), ("ConsoleEvtchn", 80),
            ("PtBase", 88), ("NrPtFrames", 96), ("MfnList", 104), ("ModStart", 112), ("ModLen", 120), ("CmdLine", 128), ("FirstP2mPfn", 1152), ("NrP2mFrames", 1160),
        ];
        Assert.All(offsets, o => Assert.Equal(o.Offset, (int)Marshal.OffsetOf<StartInfo>(o.Field)));
    }

    [Fact]
    public void Shared_info_offsets_are_Xens()
    {
        Assert.Equal(64, SharedInfoLayout.VcpuInfoBytes);
        Assert.Equal(2048, SharedInfoLayout.EventPending);
        Assert.Equal(2560, SharedInfoLayout.EventMask);
        Assert.Equal(3072, SharedInfoLayout.WallClockVersion);
        Assert.Equal(3076, SharedInfoLayout.WallClockSeconds);
        Assert.Equal(3080, SharedInfoLayout.WallClockNanoseconds);
        Assert.Equal((1, 8, 16, 32), (SharedInfoLayout.UpcallMask, SharedInfoLayout.PendingSelector, SharedInfoLayout.Cr2, SharedInfoLayout.Time));
    }

    [Fact]
    public void Mmu_and_domctl_structures_have_Xens_sizes_and_offsets()
    {
        Assert.Equal(16, Unsafe.SizeOf<MmuUpdateRequest>());
        Assert.Equal(24, Unsafe.SizeOf<MmuExtRequest>());
        Assert.Equal(8, (int)Marshal.OffsetOf<MmuExtRequest>(nameof(MmuExtRequest.Arg1)));
        Assert.Equal(144, Unsafe.SizeOf<DomctlAbi.Request>());
        Assert.Equal(16, (int)Marshal.OffsetOf<DomctlAbi.Request>(nameof(DomctlAbi.Request.U)));
        (string Field, int Offset)[] info =
        [
            ("Flags", 4), ("TotalPages", 8), ("MaxPages", 16), ("SharedInfoFrame", 48), ("CpuTime", 56), ("OnlineVcpus", 64), ("MaxVcpuId", 68), ("CpuPool", 92),
        ];
        Assert.All(info, o => Assert.Equal(o.Offset, (int)Marshal.OffsetOf<DomctlAbi.DomainInfo>(o.Field)));
        Assert.Equal(0x15u, DomctlAbi.InterfaceVersion);
        Assert.Equal((1u, 2u, 3u, 4u, 5u, 11u), (DomctlAbi.CreateDomain, DomctlAbi.DestroyDomain, DomctlAbi.PauseDomain, DomctlAbi.UnpauseDomain, DomctlAbi.GetDomainInfo, DomctlAbi.MaxMem));
    }
}

using System.Runtime.CompilerServices;
using Keel.Ringlib.Xen;
using Keel.Kernel.Memory;
using Keel.Kernel.Paging;

namespace Keel.Kernel.Tests;

public class FrameTableTests
{
    [Fact]
    public void A_frames_bookkeeping_fits_in_16_bytes()
    {
        Assert.True((ulong)Unsafe.SizeOf<FrameInfo>() <= FrameTable.BytesPerFrame, $"{Unsafe.SizeOf<FrameInfo>()} bytes");
    }

    [Fact]
    public void Frames_start_free_or_the_hypervisors_and_frame_zero_is_never_given_out()
    {
        var m = new PagingMachine(frames: 32);
        Assert.Equal(DomainIds.Xen, m.Frames.OwnerOf(0));
        Assert.Equal(DomainIds.Invalid, m.Frames.OwnerOf(1));
        Assert.Equal(DomainIds.Io, m.Frames.OwnerOf(m.FirstIoFrame));
        Assert.Equal(DomainIds.Xen, m.Frames.OwnerOf(31));
        Assert.Equal(DomainIds.Io, m.Frames.OwnerOf(1000));
        for (int i = 0; i < 23; i++) Assert.NotEqual(0UL, m.Frame(0));
    }

    [Fact]
    public void Allocation_over_quota_is_E2BIG_and_with_no_frame_left_ENOMEM()
    {
        var m = new PagingMachine(frames: 32, quota: 2);
        m.Frame(0);
        m.Frame(0);
        Assert.Equal(Errno.E2BIG, m.Paging.AllocateFrame(0, out _));
        m.Frames.SetQuota(1, 100);
        while (m.Paging.AllocateFrame(1, out _) == 0) { }
        Assert.Equal(Errno.ENOMEM, m.Paging.AllocateFrame(1, out _));
        Assert.Equal(Errno.EINVAL, m.Paging.AllocateFrame(99, out _));
        Assert.Equal(2u, m.Frames.OwnedFrames(0));
    }

    [Fact]
    public void A_new_frame_is_cleared()
    {
        var m = new PagingMachine(frames: 32);
        ulong mfn = m.Frame(0);
        m.Table(mfn)[7] = 0xDEAD;
        Assert.Equal(0, m.Release(0, mfn));
        Assert.Equal(mfn, m.Frame(1));
        Assert.Equal(0UL, m.Table(mfn)[7]);
    }

    [Fact]
    public void A_released_frame_lives_until_its_last_reference_goes()
    {
        var m = new PagingMachine();
        var guest = GuestBuilder.Build(m, 0, 2);
        ulong data = guest.Data[0];
        ulong free = m.Allocator.FreeFrames;
        Assert.Equal(0, m.Release(0, data));
        Assert.Equal((ushort)0, m.Frames.OwnerOf(data));
        Assert.False(m.Allocator.IsFree(data * 4096));
        PagingInvariants.AssertHolds(m, [guest.Vcpu]);

        Assert.Equal(0, m.Update(0, guest.L1, EntryRules.IndexOf(guest.Va(0), 1), 0, out TlbFlush flush));
        Assert.True(m.Allocator.IsFree(data * 4096));
        Assert.Equal(free + 1, m.Allocator.FreeFrames);
        Assert.Equal(TlbFlushKind.All, flush.Kind);
        Assert.True(flush.OtherVcpus);
        PagingInvariants.AssertHolds(m, [guest.Vcpu]);
    }

    [Fact]
    public void Releasing_an_unused_frame_frees_it_at_once_and_asks_for_a_flush()
    {
        var m = new PagingMachine();
        ulong mfn = m.Frame(0);
        TlbFlush flush = default;
        Assert.Equal(0, m.Paging.ReleaseFrame(0, mfn, ref flush));
        Assert.True(m.Allocator.IsFree(mfn * 4096));
        Assert.Equal((TlbFlushKind.All, true), (flush.Kind, flush.OtherVcpus));
    }

    [Fact]
    public void Releasing_twice_or_another_domains_frame_is_refused()
    {
        var m = new PagingMachine();
        ulong mine = m.Frame(0);
        ulong theirs = m.Frame(1);
        Assert.Equal(Errno.EINVAL, m.Release(0, theirs));
        Assert.Equal(0, m.Release(0, mine));
        Assert.Equal(Errno.EINVAL, m.Release(0, mine));
        Assert.Equal(Errno.EINVAL, m.Release(0, 5000));
        Assert.Equal(0u, m.Frames.OwnedFrames(0));
    }
}

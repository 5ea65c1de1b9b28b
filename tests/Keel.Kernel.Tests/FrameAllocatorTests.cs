using FsCheck;
using FsCheck.Fluent;
using Keel.Kernel.Memory;

namespace Keel.Kernel.Tests;

public class FrameAllocatorTests
{
    private const ulong Page = FrameAllocator.FrameSize;

    [Fact]
    public void A_contiguous_run_is_taken_from_the_lowest_gap_big_enough_and_nothing_else_changes()
    {
        var frames = new FrameAllocator(64 * Page);
        frames.AddUsable(0, 64 * Page);
        frames.Reserve(3 * Page, Page);
        Assert.True(frames.TryAllocateContiguous(4, out ulong run));
        Assert.Equal(4 * Page, run);
        Assert.Equal(63UL - 4, frames.FreeFrames);
        for (ulong f = 4; f < 8; f++) Assert.False(frames.IsFree(f * Page));
        Assert.True(frames.IsFree(0));
        Assert.False(frames.TryAllocateContiguous(64, out _));
        Assert.False(frames.TryAllocateContiguous(0, out _));
        Assert.Equal(59UL, frames.FreeFrames);
    }

    [Fact]
    public void Only_whole_frames_inside_usable_ranges_are_free()
    {
        var frames = new FrameAllocator(64 * Page);
        frames.AddUsable(Page + 1, 4 * Page);
        Assert.Equal(3UL, frames.FreeFrames);
        Assert.False(frames.IsFree(Page));
        Assert.True(frames.IsFree(2 * Page));
        Assert.True(frames.IsFree(4 * Page));
        Assert.False(frames.IsFree(5 * Page));
    }

    [Fact]
    public void Reserving_a_partial_frame_takes_the_whole_frame()
    {
        var frames = new FrameAllocator(64 * Page);
        frames.AddUsable(0, 64 * Page);
        frames.Reserve(10 * Page + 100, 10);
        Assert.False(frames.IsFree(10 * Page));
        Assert.Equal(63UL, frames.FreeFrames);
    }

    [Fact]
    public void Allocation_returns_the_lowest_free_frame_and_exhaustion_is_reported()
    {
        var frames = new FrameAllocator(8 * Page);
        frames.AddUsable(2 * Page, 2 * Page);
        Assert.True(frames.TryAllocate(out ulong first));
        Assert.True(frames.TryAllocate(out ulong second));
        Assert.Equal(2 * Page, first);
        Assert.Equal(3 * Page, second);
        Assert.False(frames.TryAllocate(out _));
    }

    [Fact]
    public void Freeing_twice_unaligned_or_unknown_frames_is_refused_and_changes_nothing()
    {
        var frames = new FrameAllocator(8 * Page);
        frames.AddUsable(0, 8 * Page);
        Assert.True(frames.TryAllocate(out ulong frame));
        Assert.True(frames.Free(frame));
        Assert.False(frames.Free(frame));
        Assert.False(frames.Free(frame + 1));
        Assert.False(frames.Free(100 * Page));
        Assert.Equal(8UL, frames.FreeFrames);
    }

    [Fact]
    public void A_freed_frame_is_handed_out_again()
    {
        var frames = new FrameAllocator(8 * Page);
        frames.AddUsable(0, 8 * Page);
        for (int i = 0; i < 8; i++) Assert.True(frames.TryAllocate(out _));
        Assert.True(frames.Free(5 * Page));
        Assert.True(frames.TryAllocate(out ulong again));
        Assert.Equal(5 * Page, again);
    }

    public static Arbitrary<(ulong Start, ulong Length)[]> Ranges() =>
        Gen.Zip(Gen.Choose(0, 4000), Gen.Choose(0, 300))
            .Select(t => ((ulong)t.Item1 * 1000, (ulong)t.Item2 * 997))
            .ArrayOf()
            .ToArbitrary();

    [FsCheck.Xunit.Property(MaxTest = 300)]
    public Property Every_allocated_frame_is_usable_unreserved_and_handed_out_once()
    {
        return Prop.ForAll(Ranges(), Ranges(), (usable, reserved) =>
        {
            ulong limit = 1024 * Page;
            var frames = new FrameAllocator(limit);
            foreach (var (start, length) in usable) frames.AddUsable(start, length);
            foreach (var (start, length) in reserved) frames.Reserve(start, length);
            ulong expected = frames.FreeFrames;
            var seen = new HashSet<ulong>();
            while (frames.TryAllocate(out ulong frame))
            {
                if (!seen.Add(frame)) return false;
                if (frame % Page != 0 || frame + Page > limit) return false;
                if (!usable.Any(u => frame >= u.Start && frame + Page <= u.Start + u.Length)) return false;
                if (reserved.Any(r => r.Length > 0 && frame < r.Start + r.Length && r.Start < frame + Page)) return false;
            }
            return (ulong)seen.Count == expected && frames.FreeFrames == 0;
        });
    }
}

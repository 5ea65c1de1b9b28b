using FsCheck;
using FsCheck.Fluent;
using Keel.Kernel.Time;

namespace Keel.Kernel.Tests;

public class TimeTests
{
    [Theory]
    [InlineData(1_000_000_000UL)]
    [InlineData(2_400_000_000UL)]
    [InlineData(3_999_999_999UL)]
    [InlineData(100_000_000UL)]
    [InlineData(1UL)]
    [InlineData(5_000_000_000UL)]
    public void The_time_scale_turns_one_second_of_ticks_into_one_second_of_nanoseconds(ulong hz)
    {
        var scale = TimeScale.FromFrequency(hz);
        ulong ns = scale.ToNanoseconds(hz);
        // The 32-bit fraction loses at most one part in 2^31 of the multiplier.
        Assert.InRange((long)ns, 1_000_000_000L - 2, 1_000_000_000L + 2);
    }

    [Fact]
    public void The_time_scale_multiplier_and_shift_follow_Xens_normalisation()
    {
        // 2.4 GHz halves once into (1e9, 2e9]: shift -1, multiplier 1e9 / 1.2e9 * 2^32.
        var scale = TimeScale.FromFrequency(2_400_000_000UL);
        Assert.Equal(-1, scale.Shift);
        Assert.Equal((uint)((1_000_000_000UL << 32) / 1_200_000_000UL), scale.Multiplier);
        // 100 MHz doubles four times into 1.6 GHz: shift 4.
        Assert.Equal(4, TimeScale.FromFrequency(100_000_000UL).Shift);
    }

    [FsCheck.Xunit.Property(MaxTest = 500)]
    public Property Conversion_is_monotonic_and_within_a_part_per_million_of_exact() =>
        Prop.ForAll(Gen.Choose(1_000_000, int.MaxValue).ToArbitrary(), Gen.Choose(0, int.MaxValue).ToArbitrary(), (int hz, int ticks) =>
        {
            var scale = TimeScale.FromFrequency((ulong)hz);
            ulong ns = scale.ToNanoseconds((ulong)ticks), next = scale.ToNanoseconds((ulong)ticks + 1);
            double exact = (double)ticks * 1e9 / hz;
            return next >= ns && Math.Abs(ns - exact) <= exact * 1e-6 + 2;
        });

    [Fact]
    public void Publishing_vcpu_time_info_leaves_an_even_version_and_the_fields_a_guest_reads()
    {
        byte[] info = new byte[32];
        var scale = TimeScale.FromFrequency(3_000_000_000UL);
        GuestTimeInfo.Publish(info, tsc: 123456789, systemTime: 42, scale);
        GuestTimeInfo.Publish(info, tsc: 223456789, systemTime: 43, scale);
        Assert.Equal(4u, BitConverter.ToUInt32(info, GuestTimeInfo.Version));
        Assert.Equal(223456789UL, BitConverter.ToUInt64(info, GuestTimeInfo.TscTimestamp));
        Assert.Equal(43UL, BitConverter.ToUInt64(info, GuestTimeInfo.SystemTime));
        Assert.Equal(scale.Multiplier, BitConverter.ToUInt32(info, GuestTimeInfo.Multiplier));
        Assert.Equal(scale.Shift, (sbyte)info[GuestTimeInfo.Shift]);
        Assert.Equal(GuestTimeInfo.TscStable, info[GuestTimeInfo.Flags]);
    }

    [Theory]
    [InlineData(1970, 1, 1, 0, 0, 0, 0UL)]
    [InlineData(2000, 3, 1, 0, 0, 0, 951868800UL)]
    [InlineData(2024, 2, 29, 12, 34, 56, 1709210096UL)]
    [InlineData(2026, 12, 1, 9, 50, 51, 1796118651UL)]
    public void A_calendar_time_becomes_the_Unix_seconds_Xens_wall_clock_counts(int year, int month, int day, int hour, int minute, int second, ulong expected)
    {
        var time = new DateTimeParts { Year = year, Month = month, Day = day, Hour = hour, Minute = minute, Second = second };
        Assert.Equal(expected, time.ToUnixSeconds());
    }

    [FsCheck.Xunit.Property(MaxTest = 500)]
    public Property Unix_seconds_agree_with_the_base_library_for_any_valid_date() =>
        Prop.ForAll(Gen.Choose(0, int.MaxValue).ToArbitrary(), (int seconds) =>
        {
            var at = DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime;
            var parts = new DateTimeParts { Year = at.Year, Month = at.Month, Day = at.Day, Hour = at.Hour, Minute = at.Minute, Second = at.Second };
            return parts.ToUnixSeconds() == (ulong)seconds;
        });
}

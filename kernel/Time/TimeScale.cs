using System;

namespace Keel.Kernel.Time
{
    /// <summary>
    /// Conversion of TSC ticks to nanoseconds in the form a PV guest computes itself from vcpu_time_info
    /// (xen/include/public/xen.h): ns = ((ticks shifted left by Shift, or right if it is negative) *
    /// Multiplier) >> 32. Found as Xen's set_time_scale does (xen/arch/x86/time.c): the frequency is halved or
    /// doubled, counting the shift, until it lies in (1e9, 2e9]; the multiplier is then 1e9 / frequency as a
    /// 32-bit fraction, below 2^32.
    /// </summary>
    public readonly struct TimeScale
    {
        private const ulong NanosecondsPerSecond = 1_000_000_000;

        public readonly uint Multiplier;
        public readonly sbyte Shift;

        private TimeScale(uint multiplier, sbyte shift)
        {
            Multiplier = multiplier;
            Shift = shift;
        }

        /// <summary>The scale for a counter running at ticksPerSecond (at least 1).</summary>
        public static TimeScale FromFrequency(ulong ticksPerSecond)
        {
            if (ticksPerSecond == 0) ticksPerSecond = 1;
            int shift = 0;
            ulong scaled = ticksPerSecond;
            while (scaled > 2 * NanosecondsPerSecond)
            {
                scaled >>= 1;
                shift--;
            }
            while (scaled <= NanosecondsPerSecond)
            {
                scaled <<= 1;
                shift++;
            }
            return new TimeScale((uint)((NanosecondsPerSecond << 32) / scaled), (sbyte)shift);
        }

        /// <summary>Nanoseconds in ticks TSC ticks, exactly as a guest computes them (128-bit product, no overflow).</summary>
        public ulong ToNanoseconds(ulong ticks)
        {
            ulong shifted = Shift >= 0 ? ticks << Shift : ticks >> -Shift;
            ulong high = Math.BigMul(shifted, Multiplier, out ulong low);
            return (high << 32) | (low >> 32);
        }
    }

    /// <summary>
    /// vcpu_time_info's place in a vcpu_info and the seqlock that publishes it (xen/include/public/xen.h):
    /// the version is made odd, the fields written, then the version made even again, each step visible
    /// before the next, so a reader that sees the same even version before and after its read has a
    /// consistent copy.
    /// </summary>
    public static class GuestTimeInfo
    {
        public const int Version = 0, TscTimestamp = 8, SystemTime = 16, Multiplier = 24, Shift = 28, Flags = 29;

        /// <summary>XEN_PVCLOCK_TSC_STABLE_BIT: the TSC is the same on every vCPU and never jumps.</summary>
        public const byte TscStable = 1;

        public static void Publish(Span<byte> time, ulong tsc, ulong systemTime, TimeScale scale)
        {
            ref uint version = ref System.Runtime.CompilerServices.Unsafe.As<byte, uint>(ref time[Version]);
            System.Threading.Volatile.Write(ref version, version | 1);
            System.Threading.Interlocked.MemoryBarrier();
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(time.Slice(TscTimestamp), tsc);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(time.Slice(SystemTime), systemTime);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(time.Slice(Multiplier), scale.Multiplier);
            time[Shift] = (byte)scale.Shift;
            time[Flags] = TscStable;
            System.Threading.Interlocked.MemoryBarrier();
            System.Threading.Volatile.Write(ref version, version + 1);
        }
    }
}

using System.Runtime.Intrinsics.X86;
using System.Threading;

namespace Keel.Bench.Rings;

/// <summary>The pause every busy-waiting loop in these benchmarks uses between looks, ring and baselines
/// alike. It is the PAUSE instruction itself: Thread.SpinWait scales its count by a calibration that, on
/// some virtual machines, makes even SpinWait(1) last a quarter of a microsecond.</summary>
public static class Spin
{
    public static void Pause()
    {
        if (X86Base.IsSupported)
        {
            X86Base.Pause();
        }
        else
        {
            Thread.SpinWait(1);
        }
    }
}

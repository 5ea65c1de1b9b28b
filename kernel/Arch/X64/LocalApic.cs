using System.Threading;

namespace Keel.Kernel.Arch.X64
{
    /// <summary>
    /// The local APIC (Intel SDM vol. 3A, chapter 11) in xAPIC mode: memory-mapped registers at the base
    /// address IA32_APIC_BASE names, reached through the kernel's uncached mapping of that page.
    /// </summary>
    internal static unsafe class LocalApic
    {
        private const uint ApicBaseMsr = 0x1B;
        private const ulong ApicBaseEnable = 1UL << 11;

        // Register offsets (SDM 3A, table 11-1).
        private const uint IdRegister = 0x20, EoiRegister = 0xB0, SpuriousVector = 0xF0, LvtTimer = 0x320;
        private const uint TimerInitialCount = 0x380, TimerCurrentCount = 0x390, TimerDivide = 0x3E0;

        private const uint SoftwareEnable = 1 << 8;
        private const uint LvtMasked = 1 << 16;
        private const uint TimerPeriodic = 1 << 17;

        internal const byte SpuriousInterruptVector = 0xFF;

        private static byte* s_registers;

        /// <summary>Physical address of the register page, from IA32_APIC_BASE bits 12-51.</summary>
        internal static ulong PhysicalBase => Native.ReadMsr(ApicBaseMsr) & 0x000F_FFFF_FFFF_F000;

        /// <summary>Enables the APIC with its registers at the given (uncached) virtual address.</summary>
        internal static void Enable(ulong registersVirtual)
        {
            s_registers = (byte*)registersVirtual;
            Native.WriteMsr(ApicBaseMsr, Native.ReadMsr(ApicBaseMsr) | ApicBaseEnable);
            Write(SpuriousVector, SoftwareEnable | SpuriousInterruptVector);
        }

        /// <summary>Starts a masked one-shot count down from the maximum, for calibration (divide by 16).</summary>
        internal static void StartCalibrationCount()
        {
            Write(TimerDivide, 0x3);
            Write(LvtTimer, LvtMasked);
            Write(TimerInitialCount, uint.MaxValue);
        }

        internal static uint CurrentCount => Read(TimerCurrentCount);

        /// <summary>This CPU's APIC id (the ID register's bits 24-31 in xAPIC mode), the destination an I/O APIC names.</summary>
        internal static byte Id => (byte)(Read(IdRegister) >> 24);

        /// <summary>Periodic interrupts on the vector every <paramref name="count"/> timer ticks (divide by 16).</summary>
        internal static void StartPeriodic(byte vector, uint count)
        {
            Write(TimerDivide, 0x3);
            Write(LvtTimer, TimerPeriodic | vector);
            Write(TimerInitialCount, count);
        }

        /// <summary>
        /// One interrupt on the vector after count timer ticks (divide by 16), replacing any count in progress;
        /// a count of 0 stops the timer (SDM 3A, 11.5.4: writing the initial count starts, 0 stops).
        /// </summary>
        internal static void StartOneShot(byte vector, uint count)
        {
            Write(TimerDivide, 0x3);
            Write(LvtTimer, vector);
            Write(TimerInitialCount, count);
        }

        /// <summary>Signals end of interrupt; required after every interrupt the APIC delivered (not spurious ones).</summary>
        internal static void EndOfInterrupt() => Write(EoiRegister, 0);

        // MMIO: each access must reach the device exactly once, in program order, hence Volatile.
        private static uint Read(uint register) => Volatile.Read(ref *(uint*)(s_registers + register));

        private static void Write(uint register, uint value) => Volatile.Write(ref *(uint*)(s_registers + register), value);
    }
}

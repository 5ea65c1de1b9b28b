using System.Threading;

namespace Keel.Kernel.Arch.X64
{
    /// <summary>
    /// The I/O APIC (Intel 82093AA data sheet), which carries the ISA interrupt lines to the local APIC:
    /// two memory-mapped registers, a select at 0x00 and a window at 0x10, through which the version register
    /// and the redirection table (two 32-bit halves per input pin, from register 0x10) are reached.
    /// Keel uses the address the MultiProcessor Specification (1.4, 3.6.1) gives as the default and that
    /// QEMU's pc and q35 machines use; it does not read ACPI's MADT yet.
    /// </summary>
    internal static unsafe class IoApic
    {
        internal const ulong DefaultPhysicalBase = 0xFEC0_0000;

        private const uint SelectRegister = 0x00, WindowRegister = 0x10;
        private const uint VersionIndex = 0x01, RedirectionTableIndex = 0x10;

        private static byte* s_registers;

        /// <summary>The low half of each pin's redirection entry as last written: masking and unmasking write it
        /// back with bit 16 changed instead of reading it first, two register accesses fewer per interrupt of a
        /// level-triggered line (its read-only bits 12 and 14 ignore what is written).</summary>
        private static uint[] s_low;

        /// <summary>Pins the controller has, from the version register's maximum redirection entry (bits 16-23) plus one.</summary>
        internal static int Pins { get; private set; }

        /// <summary>
        /// Starts using the controller with its registers at the given (uncached) virtual address; false if
        /// nothing answers there (reads of an absent device come back all ones).
        /// </summary>
        internal static bool TryEnable(ulong registersVirtual)
        {
            s_registers = (byte*)registersVirtual;
            uint version = Read(VersionIndex);
            if (version == uint.MaxValue) return false;
            Pins = (int)((version >> 16) & 0xFF) + 1;
            s_low = new uint[Pins];
            for (int pin = 0; pin < Pins; pin++) s_low[pin] = Read(RedirectionTableIndex + 2 * (uint)pin);
            return true;
        }

        /// <summary>
        /// Sends the pin's interrupts to the local APIC with the given id as the vector: fixed delivery,
        /// physical destination, active high, edge triggered, unmasked (data sheet, 3.2.4: all zeros in bits
        /// 8-16 of the low half), which is how an ISA line behaves. The high half (destination, bits 56-63)
        /// is written first so the entry is never live with a stale destination.
        /// </summary>
        internal static void Route(int pin, byte vector, byte apicId)
        {
            uint index = RedirectionTableIndex + 2 * (uint)pin;
            Write(index + 1, (uint)apicId << 24);
            WriteLow(pin, vector);
        }

        /// <summary>
        /// As <see cref="Route"/>, for a device line: level or edge triggered (bit 15), active low or high
        /// (bit 13), unmasked (data sheet, 3.2.4).
        /// </summary>
        internal static void RouteLine(int pin, byte vector, byte apicId, bool level, bool activeLow)
        {
            uint index = RedirectionTableIndex + 2 * (uint)pin;
            Write(index + 1, (uint)apicId << 24);
            WriteLow(pin, vector | (level ? TriggerLevel : 0) | (activeLow ? PolarityLow : 0));
        }

        /// <summary>Stops the pin's interrupts (bit 16); a level-triggered line still asserted fires again once unmasked.</summary>
        internal static void Mask(int pin) => WriteLow(pin, s_low[pin] | MaskBit);

        internal static void Unmask(int pin) => WriteLow(pin, s_low[pin] & ~MaskBit);

        private static void WriteLow(int pin, uint value)
        {
            s_low[pin] = value;
            Write(RedirectionTableIndex + 2 * (uint)pin, value);
        }

        private const uint PolarityLow = 1u << 13, TriggerLevel = 1u << 15, MaskBit = 1u << 16;

        // The window reaches whichever register the select names; each access must reach the device once, in order.
        private static uint Read(uint index)
        {
            Volatile.Write(ref *(uint*)(s_registers + SelectRegister), index);
            return Volatile.Read(ref *(uint*)(s_registers + WindowRegister));
        }

        private static void Write(uint index, uint value)
        {
            Volatile.Write(ref *(uint*)(s_registers + SelectRegister), index);
            Volatile.Write(ref *(uint*)(s_registers + WindowRegister), value);
        }
    }
}

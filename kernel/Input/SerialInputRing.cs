using System;

namespace Keel.Kernel.Input
{
    /// <summary>
    /// The serial input waiting for the control domain: what Xen keeps in serial_rx_ring
    /// (xen/drivers/char/console.c), filled by __serial_rx from the receive interrupt and emptied by
    /// CONSOLEIO_read. Free-running producer and consumer counters masked by the size, as Xen's
    /// serial_rx_prod and serial_rx_cons. A byte that finds the ring full is dropped, as in Xen, and counted
    /// here so the loss can be shown. Both ends run in the kernel with interrupts off on one CPU, so no
    /// barriers are needed.
    /// </summary>
    public sealed class SerialInputRing
    {
        /// <summary>Xen's SERIAL_RX_SIZE is 128; a whole pasted line of a shell command fits in Keel's.</summary>
        public const int DefaultCapacity = 1024;

        private readonly byte[] _bytes;
        private readonly uint _mask;

        /// <summary>Counts every byte ever put (producer) and ever taken (consumer); their difference is the fill.</summary>
        private uint _produced, _consumed;

        public SerialInputRing(int capacity = DefaultCapacity)
        {
            if (capacity <= 0 || (capacity & (capacity - 1)) != 0) capacity = DefaultCapacity;
            _bytes = new byte[capacity];
            _mask = (uint)capacity - 1;
        }

        public int Capacity => _bytes.Length;

        /// <summary>Bytes waiting to be read.</summary>
        public int Count => (int)(_produced - _consumed);

        /// <summary>Bytes dropped because the ring was full when they arrived.</summary>
        public ulong Dropped { get; private set; }

        /// <summary>Appends one byte; false (and counted in <see cref="Dropped"/>) when the ring is full.</summary>
        public bool TryPut(byte value)
        {
            if (Count == _bytes.Length)
            {
                Dropped++;
                return false;
            }
            _bytes[_produced++ & _mask] = value;
            return true;
        }

        /// <summary>
        /// Copies the oldest waiting bytes into <paramref name="into"/> without taking them, and returns how
        /// many: a reader consumes them only once it has delivered them (CONSOLEIO_read advances
        /// serial_rx_cons only after its copy to the guest succeeded).
        /// </summary>
        public int Peek(Span<byte> into)
        {
            int length = Math.Min(into.Length, Count);
            for (int i = 0; i < length; i++) into[i] = _bytes[(_consumed + (uint)i) & _mask];
            return length;
        }

        /// <summary>Takes <paramref name="count"/> bytes that <see cref="Peek"/> showed (never more than are waiting).</summary>
        public void Consume(int count) => _consumed += (uint)Math.Min(Math.Max(count, 0), Count);
    }
}

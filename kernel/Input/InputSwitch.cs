using System;

namespace Keel.Kernel.Input
{
    /// <summary>Who receives what is typed on the serial console.</summary>
    public enum InputTarget : byte
    {
        /// <summary>The control domain reads it with CONSOLEIO_read, told by VIRQ_CONSOLE.</summary>
        ControlDomain,
        /// <summary>The kernel's own debug keys (Xen's keyhandlers).</summary>
        Kernel,
    }

    /// <summary>
    /// The serial input switch of Xen's serial_rx (xen/drivers/char/console.c): the switch code, Ctrl-A by
    /// default (Xen's conswitch=a), typed three times in a row moves input between the hypervisor and the
    /// control domain; those three are eaten. A switch code followed by anything else was typed for the
    /// current target, so the one or two held back are passed on first, then the byte itself, as Xen
    /// replays them through __serial_rx. Input starts with the control domain, where Xen's console_endboot
    /// leaves it.
    /// </summary>
    public sealed class InputSwitch
    {
        /// <summary>Ctrl-A.</summary>
        public const byte SwitchCode = 0x01;

        /// <summary>How many switch codes in a row switch input.</summary>
        public const int SwitchCount = 3;

        /// <summary>The most bytes one <see cref="Accept"/> can pass on: two held-back switch codes and the byte.</summary>
        public const int MaxDelivered = SwitchCount;

        /// <summary>Switch codes seen in a row and not yet passed on (Xen's switch_code_count).</summary>
        private int _held;

        public InputTarget Target { get; private set; } = InputTarget.ControlDomain;

        /// <summary>
        /// Takes one received byte. Writes into <paramref name="deliver"/> (at least <see cref="MaxDelivered"/>
        /// long) the bytes to pass on to <see cref="Target"/>, in order, and returns how many; sets
        /// <paramref name="switched"/> when this byte completed a switch (Target is then the new one).
        /// </summary>
        public int Accept(byte value, Span<byte> deliver, out bool switched)
        {
            switched = false;
            if (value == SwitchCode)
            {
                if (++_held < SwitchCount) return 0;
                _held = 0;
                Target = Target == InputTarget.ControlDomain ? InputTarget.Kernel : InputTarget.ControlDomain;
                switched = true;
                return 0;
            }
            int count = 0;
            for (; _held > 0; _held--) deliver[count++] = SwitchCode;
            deliver[count++] = value;
            return count;
        }
    }
}

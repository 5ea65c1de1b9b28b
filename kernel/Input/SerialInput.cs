using System;
using Keel.Kernel.Arch.X64;
using Keel.Kernel.Devices;
using Keel.Kernel.Diagnostics;
using Keel.Kernel.Memory;

namespace Keel.Kernel.Input
{
    /// <summary>
    /// Input from the serial console, as Xen's console driver takes it (xen/drivers/char/console.c): each
    /// byte the receive interrupt reads goes through the Ctrl-A switch (serial_rx), then either to the
    /// kernel's debug keys (handle_keypress) or, for the control domain, into the receive ring with
    /// VIRQ_CONSOLE raised (__serial_rx), from where CONSOLEIO_read takes it.
    /// </summary>
    internal static class SerialInput
    {
        /// <summary>The vector COM1's line (ISA IRQ 4) arrives on: above the timer's, clear of the exceptions and the 8259s' range.</summary>
        internal const byte Vector = 0x34;

        /// <summary>COM1's ISA IRQ, which reaches the same-numbered I/O APIC pin: only IRQ 0 has a source override on PC machines.</summary>
        private const int Irq = 4;

        internal static readonly SerialInputRing Ring = new SerialInputRing();

        private static readonly InputSwitch s_switch = new InputSwitch();

        /// <summary>Routes IRQ 4 through the I/O APIC to this CPU and turns on the UART's receive interrupt.</summary>
        internal static void Enable()
        {
            if (!IoApic.TryEnable(DirectMap.Offset + IoApic.DefaultPhysicalBase) || IoApic.Pins <= Irq)
            {
                Console.WriteLine("serial: no I/O APIC at its default address; no serial input");
                return;
            }
            IoApic.Route(Irq, Vector, LocalApic.Id);
            Serial.EnableReceiveInterrupts();
            Console.Write("serial: input on IRQ 4 through the I/O APIC (");
            Console.Decimal((ulong)IoApic.Pins);
            Console.Write(" pins), a ");
            Console.Decimal((ulong)Ring.Capacity);
            Console.WriteLine("-byte ring for dom0");
        }

        /// <summary>The receive interrupt: drains the UART (which is what lowers its line) and passes each byte on.</summary>
        internal static void Interrupt()
        {
            Span<byte> deliver = stackalloc byte[InputSwitch.MaxDelivered];
            bool forControlDomain = false;
            while (Serial.TryRead(out byte value))
            {
                int count = s_switch.Accept(value, deliver, out bool switched);
                if (switched) AnnounceTarget();
                for (int i = 0; i < count; i++)
                {
                    if (s_switch.Target == InputTarget.Kernel)
                    {
                        KeyHandlers.Handle(deliver[i]);
                    }
                    else
                    {
                        Ring.TryPut(deliver[i]);
                        forControlDomain = true;
                    }
                }
            }
            // Raised even when the ring was full, as Xen does, so a reader that fell behind is still woken to drain it.
            if (forControlDomain) Events.MachineEvents.Channels.RaiseVirq(0, Events.MachineEvents.VirqConsole);
        }

        /// <summary>Says where input goes now, as Xen's switch_serial_input does, at the end of boot and on every switch.</summary>
        internal static void AnnounceTarget()
        {
            if (s_switch.Target == InputTarget.ControlDomain)
            {
                Console.WriteLine("keel: serial input goes to dom0 (Ctrl-A three times gives it to the kernel)");
            }
            else
            {
                Console.WriteLine("keel: serial input goes to the kernel: 'h' lists its keys (Ctrl-A three times gives it back to dom0)");
            }
        }
    }
}

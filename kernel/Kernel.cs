using System.Runtime;
using Keel.Kernel.Boot;
using Keel.Kernel.Devices;
using Keel.Kernel.Diagnostics;

namespace Keel.Kernel
{
    internal static unsafe class Kernel
    {
        [RuntimeExport("keel_main")]
        private static void Main(uint multibootInfoPhysical, KernelLayout* layout)
        {
            Serial.Initialize();
            Console.WriteLine("Keel hello");
            Arch.X64.Native.OutDword(0xF4, 0x10);
        }

        [RuntimeExport("keel_interrupt")]
        private static void Interrupt(void* frame)
        {
        }

        [RuntimeExport("keel_fatal")]
        private static void Fatal(Internal.Runtime.FatalReport* report)
        {
        }
    }
}

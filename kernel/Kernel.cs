using System.Runtime;
using Internal.Runtime;
using Internal.Runtime.CompilerHelpers;
using Keel.Kernel.Arch.X64;
using Keel.Kernel.Boot;
using Keel.Kernel.Devices;
using Keel.Kernel.Diagnostics;
using Keel.Kernel.Domains;
using Keel.Kernel.Hypercalls;
using Keel.Kernel.Input;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Ringlib.Xen;
using Keel.Kernel.Scheduling;
using Keel.Kernel.Time;
using Keel.Kernel.Traps;

namespace Keel.Kernel
{
    /// <summary>
    /// The kernel's entry points: start-up (its steps are Startup's), every entry after it (interrupts,
    /// exceptions and SYSCALLs, one dispatcher), the fatal-error sink, and how the machine ends when the
    /// domains do.
    /// </summary>
    internal static unsafe class Kernel
    {
        internal const string Version = "0.1.0";

        private static bool s_exitWhenDone;

        /// <summary>The kernel's command line, as the loader gave it.</summary>
        internal static string CommandLine { get; private set; } = "";

        /// <summary>
        /// Entered from the boot stub in long mode, interrupts off, on the kernel stack, with the boot
        /// stub's page tables (first 4 GiB identity-mapped and direct-mapped, kernel at -2 GiB).
        /// </summary>
        [RuntimeExport("keel_main")]
        private static void Main(uint multibootInfoPhysical, KernelLayout* bootLayout)
        {
            Serial.Initialize();
            KernelLayout layout = *bootLayout;
            FaultReport.StackGuard = layout.StackGuard;
            Heap.Donate((byte*)layout.HeapStart, (nuint)(layout.HeapEnd - layout.HeapStart));
            StartupCodeHelpers.InitializeModules((nint*)layout.ModulesStart, (nint*)layout.ModulesEnd);

            Multiboot2Info boot = Startup.ReadBootInformation(multibootInfoPhysical);
            CommandLine = boot.CommandLine;
            FrameAllocator frames = Startup.SetUpMemory(boot, layout, multibootInfoPhysical);
            Startup.SetUpInterruptsAndTimer(layout);
            Startup.StartClock();
            if (Boot.CommandLine.TryGet(boot.CommandLine, "keel.fault", out string fault)) DeliberateFaults.Raise(fault);

            Console.Write("heap: ");
            Console.Decimal(Heap.AllocatedBytes / 1024);
            Console.Write(" KiB of ");
            Console.Decimal(Heap.DonatedBytes / 1024);
            Console.WriteLine(" KiB used");
            Console.WriteLine("keel: ready");
            s_exitWhenDone = Boot.CommandLine.TryGet(boot.CommandLine, "keel.exit", out _);
            Scheduler.Initialise(layout.StackTop, KernelAddressSpace.Current.Root);
            DomainLifecycle.Frames = frames;
            SerialInput.Enable();
            Io.MachineIo.Initialise(DomainTable.Capacity);
            bool built = Startup.BuildInitialDomain(boot);
            if (!built && s_exitWhenDone)
            {
                Console.WriteLine("keel: keel.exit: shutting down");
                Machine.Stop(ExitStatus.Success);
            }
            // The end of boot, where Xen's console_endboot hands the serial input to dom0 and says so.
            if (built) SerialInput.AnnounceTarget();
            // From here on the kernel runs only when something enters it: the idle loop takes over the stack.
            Scheduler.Start();
            Processor.EnterIdle(layout.StackTop);
        }

        /// <summary>Every domain has ended: with keel.exit the machine stops, otherwise it idles.</summary>
        internal static void AllDomainsEnded()
        {
            Console.WriteLine("keel: no domain is running");
            if (!s_exitWhenDone) return;
            Console.WriteLine("keel: keel.exit: shutting down");
            Machine.Stop(ExitStatus.Success);
        }

        /// <summary>
        /// The initial domain has ended, and the machine with it, as on Xen (the hardware domain's shutdown
        /// shuts the host down): a clean stop when it powered off, a failure status otherwise (the control
        /// domain ends with another reason when a guest did not power off).
        /// </summary>
        internal static void InitialDomainEnded(ShutdownReason reason)
        {
            Console.Write("keel: dom0 ended (");
            Console.Write(ShutdownReasons.Name(reason));
            Console.WriteLine("): stopping the machine");
            Machine.Stop(reason == ShutdownReason.Poweroff ? ExitStatus.Success : ExitStatus.DomainFailure);
        }

        [RuntimeExport("keel_interrupt")]
        private static void Interrupt(InterruptFrame* frame)
        {
            Vcpu current = Scheduler.Current;
            bool fromGuest = GuestContext.IsFromGuest(frame);
            if (frame->Vector == RuntimeVectors.Syscall64 && current != null)
            {
                HypercallDispatcher.Handle(current, frame);
            }
            else if (frame->Vector == RuntimeVectors.Syscall32 && current != null)
            {
                DomainLifecycle.Crash(current.Domain, frame, "SYSCALL from 32-bit code (only 64-bit PV guests are supported)");
            }
            else if (frame->Vector < 32)
            {
                if (!fromGuest || current == null) FaultReport.CpuException(frame);
                GuestTraps.HandleException(current, frame, AddressSpaceSwitch.FaultAddress);
            }
            else if (frame->Vector == Timer.Vector)
            {
                Timer.Tick();
                Scheduler.TimerFired();
            }
            else if (Io.MachineIo.IsLineVector(frame->Vector))
            {
                Io.MachineIo.Interrupt(frame->Vector);
                LocalApic.EndOfInterrupt();
            }
            else if (frame->Vector == SerialInput.Vector)
            {
                SerialInput.Interrupt();
                LocalApic.EndOfInterrupt();
            }
            else if (frame->Vector != LocalApic.SpuriousInterruptVector)
            {
                LocalApic.EndOfInterrupt();
            }
            Scheduler.BeforeLeavingKernel(frame);
        }

        [RuntimeExport("keel_fatal")]
        private static void Fatal(FatalReport* report) => FaultReport.UnhandledException(report);
    }
}

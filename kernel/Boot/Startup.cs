using System;
using Internal.Runtime;
using Keel.Kernel.Arch.X64;
using Keel.Kernel.Devices;
using Keel.Kernel.Diagnostics;
using Keel.Kernel.Domains;
using Keel.Kernel.Memory;
using Keel.Kernel.Objects;
using Keel.Kernel.Paging;
using Keel.Kernel.Time;

namespace Keel.Kernel.Boot
{
    /// <summary>
    /// The steps of start-up, in the order Kernel.Main takes them: what the loader handed over, memory and
    /// the kernel's own page tables, descriptor tables and the timer, the clock, and the initial domain.
    /// Each step either succeeds or stops the machine with a reason: nothing after it could run.
    /// </summary>
    internal static unsafe class Startup
    {
        // Xen's dom0_mem default is most of the machine; Keel's control domain needs 32 MiB: its store and
        // console back-end take 12 MiB of pools and windows.
        private const ulong DefaultInitialDomainMiB = 32;

        private static FrameAllocator s_frames;

        /// <summary>
        /// Parses what GRUB handed over, starts the screen console if it can, and prints the banner and the
        /// boot facts. The structure is read through the boot stub's direct map of the first 4 GiB.
        /// </summary>
        internal static Multiboot2Info ReadBootInformation(uint multibootInfoPhysical)
        {
            byte* info = DirectMap.Pointer(multibootInfoPhysical);
            Multiboot2Error error = Multiboot2Info.Parse(new ReadOnlySpan<byte>(info, *(int*)info), out Multiboot2Info boot);
            BootModules.Keep(boot.Modules);
            if (boot.HasDisplay) Screen.Initialize(boot.Display, ModuleBytes("font"));

            Console.Write("Keel ");
            Console.Write(Kernel.Version);
            Console.WriteLine(" (x86-64)");
            if (error != Multiboot2Error.None) Panic("the Multiboot2 information is malformed", (ulong)error);
            Console.Write("boot: loader \"");
            Console.Write(boot.LoaderName);
            Console.Write("\" command line \"");
            Console.Write(boot.CommandLine);
            Console.WriteLine("\"");
            DescribeDisplay(boot);
            return boot;
        }

        /// <summary>
        /// Builds the frame allocator from the memory map, lists the modules, loads the symbol table, moves
        /// onto the kernel's own page tables and sets up the M2P and the frame table; returns the allocator.
        /// </summary>
        internal static FrameAllocator SetUpMemory(Multiboot2Info boot, in KernelLayout layout, uint multibootInfoPhysical)
        {
            s_frames = BuildFrameAllocator(boot, layout, multibootInfoPhysical);
            Console.Write("memory: ");
            Console.Decimal(boot.UsableBytes / (1024 * 1024));
            Console.Write(" MiB usable in ");
            Console.Decimal((ulong)boot.UsableRegionCount);
            Console.Write(" ranges; kernel image ");
            Console.Hex(KernelLayout.BootRegionPhysical, 8);
            Console.Write('-');
            Console.Hex(layout.ImageEndPhysical, 8);
            Console.Write("; ");
            Console.Decimal(s_frames.FreeFrames * FrameAllocator.FrameSize / (1024 * 1024));
            Console.WriteLine(" MiB free");

            for (int i = 0; i < boot.Modules.Length; i++)
            {
                BootModule module = boot.Modules[i];
                Console.Write("module: ");
                Console.Write(module.Name);
                Console.Write(' ');
                Console.Hex(module.Start, 8);
                Console.Write('-');
                Console.Hex(module.End, 8);
                Console.Write(" (");
                Console.Decimal((module.End - module.Start + 1023) / 1024);
                Console.WriteLine(" KiB)");
            }
            FaultReport.Symbols = SymbolMap.Parse(ModuleBytes("symbols"));

            if (!KernelAddressSpace.TryBuildAndSwitch(s_frames, layout, boot.HighestUsableAddress, LocalApic.PhysicalBase, IoApic.DefaultPhysicalBase))
            {
                Panic("cannot build the kernel page tables", 0);
            }
            if (!MachineToPhysical.TryCreate(s_frames, KernelAddressSpace.Current, s_frames.FrameCount))
            {
                Panic("cannot build the machine-to-physical table", 0);
            }
            GrowHeapFor(s_frames.FrameCount * FrameTable.BytesPerFrame);
            MachinePaging.Initialise(s_frames, DomainTable.Capacity, KernelAddressSpace.Current.Root);
            Events.MachineEvents.Initialise(DomainTable.Capacity);
            Grants.MachineGrants.Initialise(DomainTable.Capacity);
            return s_frames;
        }

        /// <summary>
        /// The boot heap is sized for small machines; when the frame table (16 bytes a frame) would not fit in
        /// what is left of it, the heap moves to a run of contiguous frames (contiguous in the direct map too)
        /// large enough for the table and as much again for everything else.
        /// </summary>
        private static void GrowHeapFor(ulong bytes)
        {
            const ulong Spare = 8 * 1024 * 1024;
            if (Heap.AvailableBytes >= bytes + Spare) return;
            ulong frames = (2 * bytes + Spare) / FrameAllocator.FrameSize;
            if (!s_frames.TryAllocateContiguous(frames, out ulong start)) Panic("no contiguous memory for the frame table", bytes);
            Heap.Donate(DirectMap.Pointer(start), (nuint)(frames * FrameAllocator.FrameSize));
        }

        /// <summary>
        /// Loads the descriptor tables, silences the legacy PIC, and starts the local APIC timer after
        /// calibrating it; then shows, by counting ticks over a TSC-timed second, that it ticks at its rate.
        /// </summary>
        internal static void SetUpInterruptsAndTimer(in KernelLayout layout)
        {
            ulong idtPage = 0, tssPage = 0;
            if (!s_frames.TryAllocate(out ulong cpuPage) || !s_frames.TryAllocate(out idtPage) || !s_frames.TryAllocate(out tssPage))
            {
                Panic("no frames for the descriptor tables", 0);
            }
            // The GDT spans 15 pages and must be virtually contiguous: heap memory is.
            byte[] gdt = new byte[DescriptorTables.GdtBytes];
            fixed (byte* gdtPages = gdt)
            {
                DescriptorTables.Load(gdtPages, DirectMap.Pointer(tssPage), DirectMap.Pointer(idtPage), layout.StackTop, layout.IstTop);
            }
            Syscall.Enable((ulong*)DirectMap.Pointer(cpuPage), layout.StackTop);

            Pic.RemapAndMask();
            LocalApic.Enable(DirectMap.Offset + LocalApic.PhysicalBase);
            Timer.Calibrate();
            Timer.StartPeriodic();
            Console.Write("timer: local APIC ");
            Console.Decimal(Timer.ApicCountsPerMillisecond);
            Console.Write(" ticks per ms (calibrated against the PIT), periodic at ");
            Console.Decimal(Timer.Hertz);
            Console.WriteLine(" Hz");
            MeasureTicks(1000);
        }

        /// <summary>Prints the CMOS clock's time and starts system time there (wall clock 0 if the CMOS clock is unreadable).</summary>
        internal static void StartClock()
        {
            if (!DateTimeParts.TryDecode(Cmos.ReadClock(), out DateTimeParts now))
            {
                Console.WriteLine("clock: the CMOS clock holds an invalid date");
                SystemClock.Start(Timer.TscPerMillisecond * 1000, 0);
                return;
            }
            SystemClock.Start(Timer.TscPerMillisecond * 1000, now.ToUnixSeconds());
            Console.Write("clock: ");
            Console.PaddedDecimal((ulong)now.Year, 4); Console.Write('-');
            Console.PaddedDecimal((ulong)now.Month, 2); Console.Write('-');
            Console.PaddedDecimal((ulong)now.Day, 2); Console.Write(' ');
            Console.PaddedDecimal((ulong)now.Hour, 2); Console.Write(':');
            Console.PaddedDecimal((ulong)now.Minute, 2); Console.Write(':');
            Console.PaddedDecimal((ulong)now.Second, 2);
            Console.WriteLine(" UTC");
        }

        /// <summary>The contents of the named module, or nothing if GRUB did not load one by that name.</summary>
        private static ReadOnlySpan<byte> ModuleBytes(string name)
        {
            int index = BootModules.Find(name);
            return index >= 0 && BootModules.TryGet((ulong)index, out BootModule module) ? BootModules.Bytes(module) : default;
        }

        private static void DescribeDisplay(Multiboot2Info boot)
        {
            Console.Write("display: ");
            if (!boot.HasDisplay)
            {
                Console.WriteLine("none described by the loader; console on the serial port only");
                return;
            }
            Console.Write(boot.Display.Kind == FramebufferKind.EgaText ? "EGA text " : "framebuffer ");
            Console.Decimal(boot.Display.Width);
            Console.Write('x');
            Console.Decimal(boot.Display.Height);
            Console.Write(" at ");
            Console.Hex(boot.Display.Address, 8);
            Console.WriteLine(Screen.Active ? "; console on the screen and the serial port" : "; console on the serial port only");
        }

        /// <summary>Counts timer interrupts over a TSC-measured interval, to show the tick rate is right.</summary>
        private static void MeasureTicks(ulong milliseconds)
        {
            ulong tscStart = TimestampCounter.Read();
            ulong ticksStart = Timer.Ticks;
            while (Timer.MillisecondsSince(tscStart) < milliseconds) Processor.WaitForInterrupt();
            ulong ticks = Timer.Ticks - ticksStart;
            ulong elapsed = Timer.MillisecondsSince(tscStart);
            Processor.DisableInterrupts();
            Console.Write("timer: ");
            Console.Decimal(ticks);
            Console.Write(" ticks in ");
            Console.Decimal(elapsed);
            Console.WriteLine(" ms by the TSC");
            Processor.EnableInterrupts();
        }

        private static FrameAllocator BuildFrameAllocator(Multiboot2Info boot, in KernelLayout layout, ulong multibootInfoPhysical)
        {
            var frames = new FrameAllocator(boot.HighestUsableAddress);
            for (int i = 0; i < boot.Regions.Length; i++)
            {
                if (boot.Regions[i].Kind == MemoryKind.Usable) frames.AddUsable(boot.Regions[i].Base, boot.Regions[i].Length);
            }
            // Frame 0 holds the real-mode interrupt table and BIOS data: never handed out.
            frames.Reserve(0, FrameAllocator.FrameSize);
            frames.Reserve(KernelLayout.BootRegionPhysical, layout.ImageEndPhysical - KernelLayout.BootRegionPhysical);
            frames.Reserve(multibootInfoPhysical, (ulong)boot.TotalSize);
            for (int i = 0; i < boot.Modules.Length; i++)
            {
                frames.Reserve(boot.Modules[i].Start, boot.Modules[i].End - boot.Modules[i].Start);
            }
            return frames;
        }

        internal static void Panic(string what, ulong detail)
        {
            Console.Write("*** PANIC: ");
            Console.Write(what);
            Console.Write(" (");
            Console.Hex(detail);
            Console.WriteLine(")");
            Machine.Stop(ExitStatus.Failure);
        }

        /// <summary>
        /// Every entry into the kernel after boot: interrupts, exceptions and SYSCALLs from guests, with the
        /// entered context's frame. Leaving resumes whatever the frame holds then, which the scheduler may
        /// have replaced.
        /// </summary>

        /// <summary>
        /// Builds the initial domain (Xen's dom0, the control domain) from the module named "dom0", if there
        /// is one: its module string after the name is the domain's command line, the kernel option dom0_mem=N
        /// (MiB) its size, and the module named "manifest", if any, its ramdisk (start_info mod_start), as Xen
        /// hands dom0 its initrd.
        /// </summary>
        internal static bool BuildInitialDomain(Multiboot2Info boot)
        {
            int index = BootModules.Find("dom0");
            if (index < 0) return false;
            BootModules.TryGet((ulong)index, out BootModule module);
            ulong mib = DefaultInitialDomainMiB;
            if (Boot.CommandLine.TryGet(boot.CommandLine, "dom0_mem", out string size) && !Boot.CommandLine.TryParseMebibytes(size, out mib)) mib = DefaultInitialDomainMiB;
            string commandLine = module.Name.Length > 5 ? module.Name.Substring(5) : "";
            ReadOnlySpan<byte> ramdisk = ModuleBytes("manifest");

            Domain domain = DomainTable.Create("dom0", privileged: true);
            ulong freeBefore = s_frames.FreeFrames;
            string error = DomainBuilder.TryBuild(domain, BootModules.Bytes(module), ramdisk, mib * 256, commandLine, s_frames);
            if (error != null)
            {
                Console.Write("keel: cannot build dom0: ");
                Console.WriteLine(error);
                return false;
            }
            Console.Write("keel: dom0 built: ");
            Console.Decimal(mib);
            Console.Write(" MiB, entry ");
            Console.Hex(domain.Vcpu.Context.Frame.Rip);
            Console.Write("; frames free ");
            Console.Decimal(freeBefore);
            Console.Write(" before, ");
            Console.Decimal(s_frames.FreeFrames);
            Console.WriteLine(" after");
            if (!DomainLifecycle.Start(domain))
            {
                Console.WriteLine("keel: the scheduler refused dom0's weight or warp");
                return false;
            }
            return true;
        }
    }
}

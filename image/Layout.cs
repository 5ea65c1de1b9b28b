namespace Keel.Image;

/// <summary>
/// Where everything sits in the kernel image. The boot stub, the linker script and the kernel's own page
/// tables all depend on these numbers, so they are defined once here.
/// </summary>
public static class Layout
{
    /// <summary>The boot region: link table, Multiboot2 header and 32-bit entry, loaded at 1 MiB (virtual = physical).</summary>
    public const ulong BootBase = 0x100000;

    /// <summary>Seven pages the boot stub builds its temporary page tables in (PML4, two PDPTs, four PDs).</summary>
    public const ulong BootTables = 0x108000;
    public const int BootTablePages = 7;

    /// <summary>Physical load address of the kernel proper.</summary>
    public const ulong KernelPhysical = 0x200000;

    // A PV guest owns every L4 slot of its address space except 256-271 (0xFFFF800000000000 to
    // 0xFFFF87FFFFFFFFFF), which Xen reserves for itself (xen/include/public/arch-x86/xen-x86_64.h,
    // HYPERVISOR_VIRT_START/END). Keel lives there too, where Xen does (xen/arch/x86/include/asm/config.h):
    // slot 256 is the guests' read-only M2P table, the image sits in slot 261 and the direct map of all
    // memory starts at slot 262.

    /// <summary>The kernel image: virtual = KernelVirtualOffset + physical (Xen's XEN_VIRT_START maps its load address).</summary>
    public const ulong KernelVirtualOffset = 0xFFFF82D080000000;

    /// <summary>All physical memory is mapped at this offset (Xen's DIRECTMAP_VIRT_START; the first 4 GiB already by the boot stub).</summary>
    public const ulong DirectMapOffset = 0xFFFF830000000000;

    /// <summary>The read-only machine-to-physical table PV guests read (Xen's RO_MPT_VIRT_START).</summary>
    public const ulong GuestMachineToPhysical = 0xFFFF800000000000;

    // Sized for the frame bitmap of a large machine (1 bit per 4 KiB: 4 MiB of bitmap tracks 128 GiB) with
    // room to spare; it is bss, so it costs nothing in the file.
    public const ulong BootHeapBytes = 16 * 1024 * 1024;
    public const ulong KernelStackBytes = 64 * 1024;
    public const ulong InterruptStackBytes = 16 * 1024;

    /// <summary>
    /// The boot link table: 64-bit values the linker fills in at the start of the boot region and the
    /// kernel reads at start-up (its KernelLayout struct lists the same fields in the same order).
    /// </summary>
    public static readonly string[] BootLinkTable =
    [
        "keel_main",
        "__keel_stack_top",
        "__keel_text_start", "__keel_text_end",
        "__keel_rodata_start", "__keel_rodata_end",
        "__keel_data_start", "__keel_data_end",
        "__keel_bss_start", "__keel_image_end",
        "__keel_heap_start", "__keel_heap_end",
        "__keel_modules_start", "__keel_modules_end",
        "__keel_stack_guard", "__keel_stack_bottom",
        "__keel_ist_bottom", "__keel_ist_top",
    ];

    /// <summary>
    /// What the runtime stubs reach outside themselves (managed functions, linker symbols), through a table
    /// the linker fills just before them.
    /// </summary>
    public static string[] StubLinkTable(ImageKind kind) => kind switch
    {
        ImageKind.Kernel => ["keel_interrupt", "keel_interrupt_exit", "keel_throw"],
        ImageKind.Domain => ["keel_throw", "keel_domain_entry", "__keel_modules_start", "__keel_modules_end", "__keel_heap_start", "__keel_heap_end", "__keel_stack_top", "__keel_hypercall_page", "keel_guest_trap", "__keel_text_start"],
        _ => ["keel_throw", "keel_main", "__keel_modules_start", "__keel_modules_end", "__keel_heap_start", "__keel_heap_end"],
    };

    /// <summary>
    /// Keel's domains are linked where Linux links a PV kernel (its __START_KERNEL_map), in the top L4 slot,
    /// which the kernel left to guests; their VIRT_BASE note says so and their first page is pfn 0.
    /// </summary>
    public const ulong DomainVirtBase = 0xFFFFFFFF80000000;

    /// <summary>A domain's own stack and heap, in its bss: Xen's boot stack is one page, too small for managed code.</summary>
    public const ulong DomainStackBytes = 64 * 1024;
    public const ulong DomainHeapBytes = 1024 * 1024;

    /// <summary>Linux test processes are linked at the traditional static-executable address.</summary>
    public const ulong LinuxProcessBase = 0x400000;

    public const ulong LinuxProcessHeapBytes = 64 * 1024 * 1024;
}

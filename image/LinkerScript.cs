using System.Globalization;
using System.Text;

namespace Keel.Image;

/// <summary>
/// Writes the linker scripts. In both kinds of image, text, read-only data and writable data each start on
/// a page boundary and get their own program header, so they can be mapped W^X; the runtime stubs follow
/// their link table at the start of text; ILC's module list is bracketed for the statics initialiser.
/// The kernel's boot region is linked at its physical address and the kernel proper in the top 2 GiB,
/// loaded (AT) at Layout.KernelPhysical.
/// </summary>
public static class LinkerScript
{
    private static string Hex(ulong v) => "0x" + v.ToString("X", CultureInfo.InvariantCulture);

    public static string GenerateKernel(AssembledCode stubs, ulong bootEntry)
    {
        var s = new StringBuilder();
        string Lma(string section) => $" AT(ADDR({section}) - {Hex(Layout.KernelVirtualOffset)})";

        Header(s, "keel_boot32", withBoot: true);
        s.AppendLine($"  . = {Hex(Layout.BootBase)};");
        s.AppendLine($"  .boot : AT({Hex(Layout.BootBase)})");
        s.AppendLine("  {");
        foreach (var symbol in Layout.BootLinkTable) s.AppendLine($"    QUAD({symbol})");
        s.AppendLine("    KEEP(*(.keelboot))");
        s.AppendLine("  } :boot");
        s.AppendLine("  /* The boot stub's page tables: part of the loaded image, so the loader puts nothing there. */");
        s.AppendLine($"  .boottables {Hex(Layout.BootTables)} (NOLOAD) : AT({Hex(Layout.BootTables)})");
        s.AppendLine($"  {{ . += {Hex((ulong)Layout.BootTablePages * 4096)}; }} :boot");
        s.AppendLine();
        s.AppendLine($"  . = {Hex(Layout.KernelVirtualOffset + Layout.KernelPhysical)};");
        Body(s, ImageKind.Kernel, Lma, Layout.BootHeapBytes);
        s.AppendLine();
        s.AppendLine($"keel_boot32 = {Hex(bootEntry)};");
        StubSymbols(s, stubs);
        return s.ToString();
    }

    public static string GenerateLinuxProcess(AssembledCode stubs)
    {
        var s = new StringBuilder();
        Header(s, "_start", withBoot: false);
        s.AppendLine($"  . = {Hex(Layout.LinuxProcessBase)};");
        Body(s, ImageKind.LinuxProcess, _ => "", Layout.LinuxProcessHeapBytes);
        s.AppendLine();
        StubSymbols(s, stubs);
        return s.ToString();
    }

    /// <summary>
    /// A domain: linked at Layout.DomainVirtBase, with the Xen notes (xen/include/public/elfnote.h) in a
    /// PT_NOTE segment that is also part of read-only data, the hypercall page as a page of text the kernel
    /// fills before entry, and the domain's stack and heap in bss.
    /// </summary>
    public static string GenerateDomain(AssembledCode stubs, string guestOs, string guestVersion)
    {
        var s = new StringBuilder();
        Header(s, "_start", withBoot: false, withNote: true);
        s.AppendLine($"  . = {Hex(Layout.DomainVirtBase)};");
        // Physical (load) addresses count from 0 at VIRT_BASE, and PADDR_OFFSET is 0, as in Linux's PV kernel:
        // Xen's libelf places a segment at p_paddr + VIRT_BASE - PADDR_OFFSET.
        Body(s, ImageKind.Domain, section => $" AT(ADDR({section}) - {Hex(Layout.DomainVirtBase)})", Layout.DomainHeapBytes, XenNotes(guestOs, guestVersion));
        s.AppendLine();
        StubSymbols(s, stubs);
        return s.ToString();
    }

    /// <summary>
    /// One ELF note per entry: namesz 4 ("Xen" and its NUL), descsz, type, the name, the descriptor padded
    /// to 4 bytes (ELF gABI, "Note Section"). Numeric descriptors are 8-byte addresses, strings NUL-terminated.
    /// </summary>
    private static string XenNotes(string guestOs, string guestVersion)
    {
        var s = new StringBuilder();
        void Note(int type, string descriptor)
        {
            s.Append($"    LONG(4) LONG({Hex(DescriptorLength(descriptor))}) LONG({type}) BYTE(0x58) BYTE(0x65) BYTE(0x6E) BYTE(0)");
            s.Append(' ').Append(descriptor).AppendLine(" . = ALIGN(4);");
        }
        static string Quad(string value) => $"QUAD({value})";
        static string Text(string value) => string.Concat(value.Select(c => $"BYTE({(int)c}) ")) + "BYTE(0)";
        Note(6, Text(guestOs));                       // GUEST_OS
        Note(7, Text(guestVersion));                  // GUEST_VERSION
        Note(5, Text("xen-3.0"));                     // XEN_VERSION
        Note(8, Text("generic"));                     // LOADER
        Note(9, Text("yes"));                         // PAE_MODE
        Note(3, Quad(Hex(Layout.DomainVirtBase)));     // VIRT_BASE
        Note(4, Quad("0"));                           // PADDR_OFFSET
        Note(1, Quad("_start"));                      // ENTRY
        Note(2, Quad("__keel_hypercall_page"));       // HYPERCALL_PAGE
        return s.ToString();
    }

    private static ulong DescriptorLength(string descriptor) =>
        (ulong)(descriptor.Split("QUAD(").Length - 1) * 8 + (ulong)(descriptor.Split("BYTE(").Length - 1);

    private static void Header(StringBuilder s, string entry, bool withBoot, bool withNote = false)
    {
        s.AppendLine("/* Generated by keel-image: do not edit. */");
        s.AppendLine("OUTPUT_FORMAT(elf64-x86-64)");
        s.AppendLine($"ENTRY({entry})");
        s.AppendLine("PHDRS");
        s.AppendLine("{");
        if (withBoot) s.AppendLine("  boot PT_LOAD FLAGS(7);");
        s.AppendLine("  text PT_LOAD FLAGS(5);");
        s.AppendLine("  rodata PT_LOAD FLAGS(4);");
        s.AppendLine("  data PT_LOAD FLAGS(6);");
        if (withNote) s.AppendLine("  note PT_NOTE FLAGS(4);");
        s.AppendLine("}");
        s.AppendLine("SECTIONS");
        s.AppendLine("{");
    }

    private static void Body(StringBuilder s, ImageKind kind, Func<string, string> lma, ulong heapBytes, string notes = null)
    {
        s.AppendLine("  __keel_text_start = .;");
        s.AppendLine($"  .text :{lma(".text")}");
        s.AppendLine("  {");
        foreach (var symbol in Layout.StubLinkTable(kind)) s.AppendLine($"    QUAD({symbol})");
        s.AppendLine("    __keel_stubs = .;");
        s.AppendLine("    KEEP(*(.keelstubs))");
        s.AppendLine("    *(.text .text.*)");
        s.AppendLine("    *(__managedcode)");
        if (kind == ImageKind.Domain)
        {
            s.AppendLine("    . = ALIGN(4096);");
            s.AppendLine("    __keel_hypercall_page = .;");
            s.AppendLine("    . += 4096;");
        }
        s.AppendLine("  } :text");
        s.AppendLine("  . = ALIGN(4096);");
        s.AppendLine("  __keel_text_end = .;");
        s.AppendLine("  __keel_rodata_start = .;");
        s.AppendLine($"  .rodata :{lma(".rodata")} {{ *(.rodata .rodata.*) *(.dotnet_eh_table) }} :rodata");
        s.AppendLine($"  .eh_frame :{lma(".eh_frame")} {{ KEEP(*(.eh_frame)) }} :rodata");
        if (notes is not null)
        {
            s.AppendLine("  . = ALIGN(4);");
            s.AppendLine($"  .note.Xen :{lma(".note.Xen")}");
            s.AppendLine("  {");
            s.Append(notes);
            s.AppendLine("  } :rodata :note");
        }
        s.AppendLine("  . = ALIGN(4096);");
        s.AppendLine("  __keel_rodata_end = .;");
        s.AppendLine("  __keel_data_start = .;");
        s.AppendLine($"  .data :{lma(".data")}");
        s.AppendLine("  {");
        s.AppendLine("    *(.data .data.*)");
        s.AppendLine("    . = ALIGN(8);");
        s.AppendLine("    __keel_modules_start = .;");
        s.AppendLine("    KEEP(*(__modules))");
        s.AppendLine("    __keel_modules_end = .;");
        s.AppendLine("  } :data");
        s.AppendLine($"  .tdata :{lma(".tdata")} {{ *(.tdata .tdata.*) }} :data");
        s.AppendLine("  __keel_data_end = .;");
        s.AppendLine($"  .bss (NOLOAD) :{lma(".bss")}");
        s.AppendLine("  {");
        s.AppendLine("    __keel_bss_start = .;");
        s.AppendLine("    *(.bss .bss.*) *(COMMON)");
        s.AppendLine("    . = ALIGN(4096);");
        s.AppendLine("    __keel_heap_start = .;");
        s.AppendLine($"    . += {Hex(heapBytes)};");
        s.AppendLine("    __keel_heap_end = .;");
        if (kind == ImageKind.Domain)
        {
            s.AppendLine("    . = ALIGN(16);");
            s.AppendLine($"    . += {Hex(Layout.DomainStackBytes)};");
            s.AppendLine("    __keel_stack_top = .;");
        }
        if (kind == ImageKind.Kernel)
        {
            s.AppendLine("    /* An unmapped page below the stack turns an overflow into a page fault. */");
            s.AppendLine("    __keel_stack_guard = .;");
            s.AppendLine("    . += 0x1000;");
            s.AppendLine("    __keel_stack_bottom = .;");
            s.AppendLine($"    . += {Hex(Layout.KernelStackBytes)};");
            s.AppendLine("    __keel_stack_top = .;");
            s.AppendLine("    __keel_ist_bottom = .;");
            s.AppendLine($"    . += {Hex(Layout.InterruptStackBytes)};");
            s.AppendLine("    __keel_ist_top = .;");
        }
        s.AppendLine("  } :data");
        s.AppendLine("  . = ALIGN(4096);");
        s.AppendLine("  __keel_image_end = .;");
        s.AppendLine("  /DISCARD/ : { *(.comment) *(.note .note.*) }");
        s.AppendLine("}");
    }

    private static void StubSymbols(StringBuilder s, AssembledCode stubs)
    {
        foreach (var (name, address) in stubs.Labels.OrderBy(pair => pair.Value))
        {
            if (name.StartsWith("__keel_isr_", StringComparison.Ordinal) || name.StartsWith("__keel_guest_trap_", StringComparison.Ordinal)) continue;
            s.AppendLine($"{name} = __keel_stubs + {Hex(address - stubs.Base)};");
        }
    }
}

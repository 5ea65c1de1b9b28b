using System.Buffers.Binary;
using System.Reflection;
using Iced.Intel;
using Keel.Image;
using Keel.Kernel.Boot;

namespace Keel.Image.Tests;

public class StubTests
{
    [Fact]
    public void The_boot_blob_starts_with_a_Multiboot2_header_whose_checksum_and_entry_tag_are_valid()
    {
        var (bytes, entry) = BootStub.Generate();
        Assert.Equal(0xE85250D6u, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        uint architecture = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4));
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12));
        Assert.Equal(0u, architecture);
        Assert.Equal(0u, unchecked(0xE85250D6u + architecture + length + checksum));
        // Tag 3 (entry address) carries the 32-bit entry, which lies inside the blob.
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(16)) & 0xFFFF);
        Assert.Equal((uint)entry, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(24)));
        Assert.InRange(entry, BootStub.CodeBase, BootStub.CodeBase + (ulong)bytes.Length - 1);
        // The header's 8-byte alignment within the file follows from the link table being whole quadwords.
        Assert.Equal(0UL, BootStub.CodeBase % 8);
    }

    [Fact]
    public void The_32_bit_entry_checks_the_loader_magic_before_anything_else()
    {
        var (bytes, entry) = BootStub.Generate();
        var decoder = Decoder.Create(32, bytes.AsSpan((int)(entry - BootStub.CodeBase)).ToArray());
        decoder.IP = entry;
        var first = decoder.Decode();
        var second = decoder.Decode();
        Assert.Equal(Mnemonic.Cli, first.Mnemonic);
        Assert.Equal(Mnemonic.Cmp, second.Mnemonic);
        Assert.Equal(0x36D76289u, second.Immediate32);
    }

    [Fact]
    public void Every_interrupt_stub_sits_at_its_fixed_stride_and_pushes_its_own_vector()
    {
        var stubs = RuntimeStubs.Generate(ImageKind.Kernel);
        Assert.Equal(KernelLayout.InterruptStubStride, RuntimeStubs.InterruptStubStride);
        ulong first = stubs.Labels["keel_interrupt_stubs"];
        for (int vector = 0; vector < 256; vector++)
        {
            ulong at = first + (ulong)(vector * RuntimeStubs.InterruptStubStride);
            var decoder = Decoder.Create(64, stubs.Bytes.AsSpan((int)(at - stubs.Base), 16).ToArray());
            decoder.IP = at;
            var instructions = new List<Instruction>();
            for (int i = 0; i < 3; i++) instructions.Add(decoder.Decode());
            bool cpuPushesErrorCode = vector is 8 or 10 or 11 or 12 or 13 or 14 or 17 or 21 or 29 or 30;
            var pushes = instructions.TakeWhile(i => i.Mnemonic == Mnemonic.Push).ToList();
            Assert.Equal(cpuPushesErrorCode ? 1 : 2, pushes.Count);
            Assert.Equal((ulong)vector, pushes[^1].GetImmediate(0));
            Assert.Equal(Mnemonic.Jmp, instructions[pushes.Count].Mnemonic);
        }
    }

    [Fact]
    public void The_entry_path_clears_CR0_TS_before_its_FXSAVE_and_sets_it_only_after_FXRSTOR_when_the_exit_asks()
    {
        var stubs = RuntimeStubs.Generate(ImageKind.Kernel);
        ulong stub0 = stubs.Labels["keel_interrupt_stubs"];
        var toCommon = Decode(stubs, stub0).First(i => i.Mnemonic == Mnemonic.Jmp);
        var path = Decode(stubs, toCommon.NearBranchTarget).TakeWhile(i => i.Mnemonic != Mnemonic.Iretq).ToList();
        int Index(Func<Instruction, bool> what) => path.FindIndex(i => what(i));
        int clts = Index(i => i.Mnemonic == Mnemonic.Clts);
        int fxsave = Index(i => i.Mnemonic == Mnemonic.Fxsave64);
        int fxrstor = Index(i => i.Mnemonic == Mnemonic.Fxrstor64);
        int setTs = Index(i => i.Mnemonic == Mnemonic.Mov && i.Op0Register == Register.CR0);
        var calls = path.Select((i, at) => (i, at)).Where(x => x.i.Mnemonic == Mnemonic.Call).Select(x => x.at).ToList();
        Assert.InRange(clts, 0, fxsave - 1);
        // keel_interrupt, then keel_interrupt_exit, both before the FPU state comes back; CR0 is written after it.
        Assert.Equal(2, calls.Count);
        Assert.InRange(calls[1], calls[0] + 1, fxrstor - 1);
        Assert.InRange(setTs, fxrstor + 1, path.Count - 1);
        // Between FXRSTOR and IRETQ nothing may touch the FPU or SSE: with TS set it would fault in the kernel.
        Assert.DoesNotContain(path.Skip(fxrstor + 1), i => i.Op0Kind == OpKind.Register && i.Op0Register.IsXMM());
        Assert.Contains(path.Skip(fxrstor + 1).Take(setTs - fxrstor), i => i.Mnemonic == Mnemonic.Test);
    }

    private static IEnumerable<Instruction> Decode(AssembledCode code, ulong at)
    {
        var decoder = Decoder.Create(64, code.Bytes.AsSpan((int)(at - code.Base)).ToArray());
        decoder.IP = at;
        while (decoder.IP < code.Base + (ulong)code.Bytes.Length) yield return decoder.Decode();
    }

    [Fact]
    public void The_kernel_reads_the_boot_link_table_with_the_fields_in_the_order_the_linker_writes_them()
    {
        static string Normal(string name) => name.Replace("__keel_", "").Replace("keel_", "").Replace("_", "").ToLowerInvariant();
        var fields = typeof(KernelLayout).GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
            .OrderBy(f => f.MetadataToken)
            .Select(f => f.Name.ToLowerInvariant());
        Assert.Equal(Layout.BootLinkTable.Select(Normal), fields);
    }

    [Fact]
    public void The_linker_script_exports_every_runtime_helper_and_fills_both_link_tables()
    {
        var stubs = RuntimeStubs.Generate(ImageKind.Kernel);
        var (_, entry) = BootStub.Generate();
        string script = LinkerScript.GenerateKernel(stubs, entry);
        foreach (var symbol in new[] { "RhpThrowEx", "RhpAssignRef", "RhpByRefAssignRef", "__security_cookie", "keel_load_gdt", "keel_interrupt_stubs_address" })
        {
            Assert.Contains($"{symbol} = __keel_stubs + 0x", script);
        }
        foreach (var symbol in Layout.BootLinkTable.Concat(Layout.StubLinkTable(ImageKind.Kernel))) Assert.Contains($"QUAD({symbol})", script);
        Assert.Contains($"keel_boot32 = 0x{entry:X};", script);
    }

    [Fact]
    public void The_kernel_and_the_image_tool_agree_on_the_virtual_layout_and_it_stays_in_the_slots_Xen_reserves()
    {
        Assert.Equal(Layout.KernelVirtualOffset, KernelLayout.KernelVirtualOffset);
        Assert.Equal(Layout.DirectMapOffset, KernelLayout.DirectMapOffset);
        Assert.Equal(Layout.GuestMachineToPhysical, KernelLayout.GuestMachineToPhysical);
        // L4 slots 256-271 are the hypervisor's; everything else belongs to PV guests (xen-x86_64.h).
        foreach (ulong address in new[] { Layout.KernelVirtualOffset, Layout.DirectMapOffset, Layout.GuestMachineToPhysical })
        {
            Assert.InRange((address >> 39) & 511, 256UL, 271UL);
        }
    }

    [Fact]
    public void The_console_font_is_GRUBs_128_ASCII_glyphs_of_16_rows()
    {
        byte[] font = ConsoleFont.FromGrubHeader(File.ReadAllText(ConsoleFont.GrubAsciiHeader));
        Assert.Equal(128 * 16, font.Length);
        Assert.All(font.AsSpan(' ' * 16, 16).ToArray(), row => Assert.Equal(0, row));
        Assert.Contains(font.AsSpan('A' * 16, 16).ToArray(), row => row != 0);
        Assert.Throws<BuildException>(() => ConsoleFont.FromGrubHeader("0x00, 0x01"));
    }
}

using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Keel.Image;

/// <summary>Assembled machine code with the addresses of the labels the caller asked about.</summary>
public sealed record AssembledCode(byte[] Bytes, ulong Base, IReadOnlyDictionary<string, ulong> Labels)
{
    public ulong Offset(string label) => Labels[label] - Base;
}

public static class AssemblerExtensions
{
    /// <summary>
    /// Assembles at the given address and reports where each named label landed. Branches are always
    /// encoded in their long form so that stub sizes do not depend on distances.
    /// </summary>
    public static AssembledCode AssembleAt(this Assembler assembler, ulong baseAddress, IReadOnlyDictionary<string, Label> labels)
    {
        var stream = new MemoryStream();
        var result = assembler.Assemble(new StreamCodeWriter(stream), baseAddress, BlockEncoderOptions.ReturnNewInstructionOffsets);
        var resolved = labels.ToDictionary(pair => pair.Key, pair => result.GetLabelRIP(pair.Value));
        return new AssembledCode(stream.ToArray(), baseAddress, resolved);
    }

    /// <summary>
    /// Loads DS, ES and SS with the selector in the given register and clears FS and GS (their bases come
    /// from MSRs in long mode). Clobbers eax.
    /// </summary>
    public static void LoadDataSegments(this Assembler a, AssemblerRegister16 selector)
    {
        a.mov(ds, selector);
        a.mov(es, selector);
        a.mov(ss, selector);
        a.xor(eax, eax);
        a.mov(fs, ax);
        a.mov(gs, ax);
    }
}

using Iced.Intel;

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
}

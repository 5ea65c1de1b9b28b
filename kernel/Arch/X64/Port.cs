namespace Keel.Kernel.Arch.X64
{
    /// <summary>An x86 I/O port. Device code holds these rather than raw port numbers.</summary>
    internal readonly struct Port
    {
        private readonly ushort _number;

        internal Port(ushort number) { _number = number; }

        internal Port Offset(ushort by) => new Port((ushort)(_number + by));

        internal byte Read8() => Native.InByte(_number);
        internal ushort Read16() => Native.InWord(_number);
        internal uint Read32() => Native.InDword(_number);
        internal void Write8(byte value) => Native.OutByte(_number, value);
        internal void Write16(ushort value) => Native.OutWord(_number, value);
        internal void Write32(uint value) => Native.OutDword(_number, value);
    }
}

// The primitive value types. Each wraps one field of its own type, the shape the compiler and ILC expect.
namespace System
{
    public readonly struct Boolean : IEquatable<bool>
    {
        private readonly bool m_value;
        public bool Equals(bool other) => m_value == other;
        public override string ToString() => m_value ? "True" : "False";
        public override int GetHashCode() => m_value ? 1 : 0;
        public override bool Equals(object obj) => obj is bool other && other == m_value;
    }
    public readonly struct Char : IEquatable<char>
    {
        private readonly char m_value;
        public bool Equals(char other) => m_value == other;
        public const char MinValue = (char)0;
        public const char MaxValue = (char)0xFFFF;
        public override string ToString() => new string(m_value, 1);
        public override int GetHashCode() => (int)m_value;
        public override bool Equals(object obj) => obj is char other && other == m_value;
    }
    public readonly struct SByte : IEquatable<sbyte>
    {
        private readonly sbyte m_value;
        public bool Equals(sbyte other) => m_value == other;
        public const sbyte MinValue = -128;
        public const sbyte MaxValue = 127;
        public override string ToString() => Number.FormatInt64(m_value);
        public override int GetHashCode() => (int)m_value;
        public override bool Equals(object obj) => obj is sbyte other && other == m_value;
    }
    public readonly struct Byte : IEquatable<byte>
    {
        private readonly byte m_value;
        public bool Equals(byte other) => m_value == other;
        public const byte MinValue = 0;
        public const byte MaxValue = 255;
        public override string ToString() => Number.FormatUInt64(m_value);
        public override int GetHashCode() => (int)m_value;
        public override bool Equals(object obj) => obj is byte other && other == m_value;
    }
    public readonly struct Int16 : IEquatable<short>
    {
        private readonly short m_value;
        public bool Equals(short other) => m_value == other;
        public const short MinValue = -32768;
        public const short MaxValue = 32767;
        public override string ToString() => Number.FormatInt64(m_value);
        public override int GetHashCode() => (int)m_value;
        public override bool Equals(object obj) => obj is short other && other == m_value;
    }
    public readonly struct UInt16 : IEquatable<ushort>
    {
        private readonly ushort m_value;
        public bool Equals(ushort other) => m_value == other;
        public const ushort MinValue = 0;
        public const ushort MaxValue = 65535;
        public override string ToString() => Number.FormatUInt64(m_value);
        public override int GetHashCode() => (int)m_value;
        public override bool Equals(object obj) => obj is ushort other && other == m_value;
    }
    public readonly struct Int32 : IEquatable<int>
    {
        private readonly int m_value;
        public bool Equals(int other) => m_value == other;
        public const int MinValue = unchecked((int)0x80000000);
        public const int MaxValue = 2147483647;
        public override string ToString() => Number.FormatInt64(m_value);
        public override int GetHashCode() => (int)m_value;
        public override bool Equals(object obj) => obj is int other && other == m_value;
    }
    public readonly struct UInt32 : IEquatable<uint>
    {
        private readonly uint m_value;
        public bool Equals(uint other) => m_value == other;
        public const uint MinValue = 0;
        public const uint MaxValue = 4294967295;
        public override string ToString() => Number.FormatUInt64(m_value);
        public override int GetHashCode() => (int)m_value;
        public override bool Equals(object obj) => obj is uint other && other == m_value;
    }
    public readonly struct Int64 : IEquatable<long>
    {
        private readonly long m_value;
        public bool Equals(long other) => m_value == other;
        public const long MinValue = unchecked((long)0x8000000000000000);
        public const long MaxValue = 9223372036854775807;
        public override string ToString() => Number.FormatInt64(m_value);
        public override int GetHashCode() => (int)m_value;
        public override bool Equals(object obj) => obj is long other && other == m_value;
    }
    public readonly struct UInt64 : IEquatable<ulong>
    {
        private readonly ulong m_value;
        public bool Equals(ulong other) => m_value == other;
        public const ulong MinValue = 0;
        public const ulong MaxValue = 18446744073709551615;
        public override string ToString() => Number.FormatUInt64(m_value);
        public override int GetHashCode() => (int)m_value;
        public override bool Equals(object obj) => obj is ulong other && other == m_value;
    }
    public readonly struct Single : IEquatable<float>
    {
        private readonly float m_value;
        public bool Equals(float other) => m_value == other;
        public override bool Equals(object obj) => obj is float other && other == m_value;
    }
    public readonly struct Double : IEquatable<double>
    {
        private readonly double m_value;
        public bool Equals(double other) => m_value == other;
        public override bool Equals(object obj) => obj is double other && other == m_value;
    }
}

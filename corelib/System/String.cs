using System.Runtime;
using System.Runtime.CompilerServices;
using Internal.Runtime;

namespace System
{
    /// <summary>
    /// UTF-16 text. Layout fixed by NativeAOT: the length, then the characters, then a terminating NUL
    /// that the MethodTable's base size already counts.
    /// </summary>
    public sealed class String
    {
        // Referenced by name by ILC: string literal data and OffsetToStringData depend on this order.
        private readonly int _stringLength;
        private char _firstChar;

        public static readonly string Empty = "";

        public int Length => _stringLength;

        [IndexerName("Chars")]
        public char this[int index]
        {
            get
            {
                if ((uint)index >= (uint)_stringLength) ThrowHelper.ThrowIndexOutOfRangeException();
                return Unsafe.Add(ref _firstChar, index);
            }
        }

        public ref readonly char GetPinnableReference() => ref _firstChar;

        internal ref char GetRawStringData() => ref _firstChar;

        public static implicit operator ReadOnlySpan<char>(string value) => value.AsSpan();

        internal static unsafe string FastAllocateString(int length)
        {
            if (length < 0) ThrowHelper.ThrowArgumentOutOfRangeException("length");
            return Unsafe.As<string>(Heap.AllocateArrayLike(MethodTable.OfString, (uint)length));
        }

        // The compiler lowers 'new string(...)' to these Ctor methods; a constructor with the same signature
        // must also exist for C# to accept the expression.
        public extern String(char c, int count);
        public extern unsafe String(char* value, int startIndex, int length);
        public extern String(ReadOnlySpan<char> value);

        private static string Ctor(char c, int count)
        {
            string result = FastAllocateString(count);
            for (int i = 0; i < count; i++) Unsafe.Add(ref result._firstChar, i) = c;
            return result;
        }

        private static unsafe string Ctor(char* value, int startIndex, int length)
        {
            return Ctor(new ReadOnlySpan<char>(value + startIndex, length));
        }

        private static string Ctor(ReadOnlySpan<char> value)
        {
            string result = FastAllocateString(value.Length);
            value.CopyTo(new Span<char>(ref result._firstChar, value.Length));
            return result;
        }

        public static string Concat(string str0, string str1)
        {
            str0 ??= Empty;
            str1 ??= Empty;
            string result = FastAllocateString(str0.Length + str1.Length);
            Span<char> destination = new Span<char>(ref result._firstChar, result.Length);
            str0.AsSpan().CopyTo(destination);
            str1.AsSpan().CopyTo(destination.Slice(str0.Length));
            return result;
        }

        public static string Concat(string str0, string str1, string str2) => Concat(Concat(str0, str1), str2);

        public static string Concat(string str0, string str1, string str2, string str3) =>
            Concat(Concat(str0, str1), Concat(str2, str3));

        public static string Concat(object arg0, object arg1) => Concat(arg0?.ToString(), arg1?.ToString());

        public static string Concat(object arg0, object arg1, object arg2) =>
            Concat(arg0?.ToString(), arg1?.ToString(), arg2?.ToString());

        public static string Concat(params string[] values)
        {
            string result = Empty;
            for (int i = 0; i < values.Length; i++) result = Concat(result, values[i]);
            return result;
        }

        public static bool Equals(string a, string b)
        {
            if ((object)a == b) return true;
            if (a is null || b is null || a.Length != b.Length) return false;
            return a.AsSpan().SequenceEqual(b);
        }

        public override bool Equals(object obj) => obj is string other && Equals(this, other);

        public bool Equals(string value) => Equals(this, value);

        public static bool operator ==(string a, string b) => Equals(a, b);

        public static bool operator !=(string a, string b) => !Equals(a, b);

        public override int GetHashCode()
        {
            // FNV-1a over the UTF-16 code units: stable and good enough without a randomised seed.
            uint hash = 2166136261;
            for (int i = 0; i < _stringLength; i++) hash = (hash ^ Unsafe.Add(ref _firstChar, i)) * 16777619;
            return (int)hash;
        }

        public bool StartsWith(string value) =>
            value.Length <= Length && this.AsSpan().Slice(0, value.Length).SequenceEqual(value);

        public string Substring(int startIndex) => Substring(startIndex, Length - startIndex);

        public string Substring(int startIndex, int length) => new string(this.AsSpan().Slice(startIndex, length));

        public static bool IsNullOrEmpty(string value) => value is null || value.Length == 0;

        public override string ToString() => this;
    }
}

using System.Runtime.CompilerServices;

namespace System
{
    /// <summary>A bounds-checked window on contiguous memory: a managed reference and a length.</summary>
    public readonly ref struct Span<T>
    {
        internal readonly ref T _reference;
        private readonly int _length;

        public Span(T[] array)
        {
            if (array == null)
            {
                this = default;
                return;
            }
            _reference = ref Unsafe.As<byte, T>(ref Unsafe.As<RawArrayData>(array).Data);
            _length = array.Length;
        }

        public Span(T[] array, int start, int length)
        {
            if (array == null)
            {
                if (start != 0 || length != 0) ThrowHelper.ThrowArgumentOutOfRangeException("start");
                this = default;
                return;
            }
            if ((ulong)(uint)start + (uint)length > (uint)array.Length) ThrowHelper.ThrowArgumentOutOfRangeException("start");
            _reference = ref Unsafe.Add(ref Unsafe.As<byte, T>(ref Unsafe.As<RawArrayData>(array).Data), start);
            _length = length;
        }

        public unsafe Span(void* pointer, int length)
        {
            if (length < 0) ThrowHelper.ThrowArgumentOutOfRangeException("length");
            _reference = ref Unsafe.AsRef<T>(pointer);
            _length = length;
        }

        public Span(ref T reference)
        {
            _reference = ref reference;
            _length = 1;
        }

        internal Span(ref T reference, int length)
        {
            _reference = ref reference;
            _length = length;
        }

        public ref T this[int index]
        {
            get
            {
                if ((uint)index >= (uint)_length) ThrowHelper.ThrowIndexOutOfRangeException();
                return ref Unsafe.Add(ref _reference, index);
            }
        }

        public int Length => _length;

        public bool IsEmpty => _length == 0;

        public static Span<T> Empty => default;

        public ref T GetPinnableReference() => ref (_length != 0 ? ref _reference : ref Unsafe.NullRef<T>());

        public Span<T> Slice(int start)
        {
            if ((uint)start > (uint)_length) ThrowHelper.ThrowArgumentOutOfRangeException("start");
            return new Span<T>(ref Unsafe.Add(ref _reference, start), _length - start);
        }

        public Span<T> Slice(int start, int length)
        {
            if ((ulong)(uint)start + (uint)length > (uint)_length) ThrowHelper.ThrowArgumentOutOfRangeException("start");
            return new Span<T>(ref Unsafe.Add(ref _reference, start), length);
        }

        public void Clear()
        {
            for (int i = 0; i < _length; i++) Unsafe.Add(ref _reference, i) = default;
        }

        public void Fill(T value)
        {
            for (int i = 0; i < _length; i++) Unsafe.Add(ref _reference, i) = value;
        }

        public void CopyTo(Span<T> destination)
        {
            if (!TryCopyTo(destination)) ThrowHelper.ThrowArgumentException("Destination is too short.");
        }

        public bool TryCopyTo(Span<T> destination)
        {
            if ((uint)_length > (uint)destination.Length) return false;
            Buffer.Memmove(ref destination._reference, ref _reference, (nuint)_length);
            return true;
        }

        public T[] ToArray()
        {
            T[] result = new T[_length];
            CopyTo(result);
            return result;
        }

        public static implicit operator Span<T>(T[] array) => new Span<T>(array);

        public static implicit operator ReadOnlySpan<T>(Span<T> span) => new ReadOnlySpan<T>(ref span._reference, span._length);

        public Enumerator GetEnumerator() => new Enumerator(this);

        public ref struct Enumerator
        {
            private readonly Span<T> _span;
            private int _index;

            internal Enumerator(Span<T> span)
            {
                _span = span;
                _index = -1;
            }

            public bool MoveNext()
            {
                int index = _index + 1;
                if (index < _span.Length)
                {
                    _index = index;
                    return true;
                }
                return false;
            }

            public ref T Current => ref _span[_index];
        }
    }

    /// <summary>A read-only bounds-checked window on contiguous memory.</summary>
    public readonly ref struct ReadOnlySpan<T>
    {
        internal readonly ref T _reference;
        private readonly int _length;

        public ReadOnlySpan(T[] array)
        {
            if (array == null)
            {
                this = default;
                return;
            }
            _reference = ref Unsafe.As<byte, T>(ref Unsafe.As<RawArrayData>(array).Data);
            _length = array.Length;
        }

        public ReadOnlySpan(T[] array, int start, int length)
        {
            if (array == null)
            {
                if (start != 0 || length != 0) ThrowHelper.ThrowArgumentOutOfRangeException("start");
                this = default;
                return;
            }
            if ((ulong)(uint)start + (uint)length > (uint)array.Length) ThrowHelper.ThrowArgumentOutOfRangeException("start");
            _reference = ref Unsafe.Add(ref Unsafe.As<byte, T>(ref Unsafe.As<RawArrayData>(array).Data), start);
            _length = length;
        }

        public unsafe ReadOnlySpan(void* pointer, int length)
        {
            if (length < 0) ThrowHelper.ThrowArgumentOutOfRangeException("length");
            _reference = ref Unsafe.AsRef<T>(pointer);
            _length = length;
        }

        public ReadOnlySpan(ref readonly T reference)
        {
            _reference = ref Unsafe.AsRef(in reference);
            _length = 1;
        }

        internal ReadOnlySpan(ref T reference, int length)
        {
            _reference = ref reference;
            _length = length;
        }

        public ref readonly T this[int index]
        {
            get
            {
                if ((uint)index >= (uint)_length) ThrowHelper.ThrowIndexOutOfRangeException();
                return ref Unsafe.Add(ref _reference, index);
            }
        }

        public int Length => _length;

        public bool IsEmpty => _length == 0;

        public static ReadOnlySpan<T> Empty => default;

        public ref readonly T GetPinnableReference() => ref (_length != 0 ? ref _reference : ref Unsafe.NullRef<T>());

        public ReadOnlySpan<T> Slice(int start)
        {
            if ((uint)start > (uint)_length) ThrowHelper.ThrowArgumentOutOfRangeException("start");
            return new ReadOnlySpan<T>(ref Unsafe.Add(ref _reference, start), _length - start);
        }

        public ReadOnlySpan<T> Slice(int start, int length)
        {
            if ((ulong)(uint)start + (uint)length > (uint)_length) ThrowHelper.ThrowArgumentOutOfRangeException("start");
            return new ReadOnlySpan<T>(ref Unsafe.Add(ref _reference, start), length);
        }

        public void CopyTo(Span<T> destination)
        {
            if (!TryCopyTo(destination)) ThrowHelper.ThrowArgumentException("Destination is too short.");
        }

        public bool TryCopyTo(Span<T> destination)
        {
            if ((uint)_length > (uint)destination.Length) return false;
            Buffer.Memmove(ref destination._reference, ref _reference, (nuint)_length);
            return true;
        }

        public T[] ToArray()
        {
            T[] result = new T[_length];
            CopyTo(result);
            return result;
        }

        public static implicit operator ReadOnlySpan<T>(T[] array) => new ReadOnlySpan<T>(array);

        public Enumerator GetEnumerator() => new Enumerator(this);

        public ref struct Enumerator
        {
            private readonly ReadOnlySpan<T> _span;
            private int _index;

            internal Enumerator(ReadOnlySpan<T> span)
            {
                _span = span;
                _index = -1;
            }

            public bool MoveNext()
            {
                int index = _index + 1;
                if (index < _span.Length)
                {
                    _index = index;
                    return true;
                }
                return false;
            }

            public ref readonly T Current => ref _span[_index];
        }
    }

    /// <summary>Extension methods over spans, the subset the project uses.</summary>
    public static class MemoryExtensions
    {
        // C# 14 lowers the built-in string-to-span conversion to this method, so it must not use that
        // conversion itself.
        public static ReadOnlySpan<char> AsSpan(this string text) =>
            text is null ? default : new ReadOnlySpan<char>(ref text.GetRawStringData(), text.Length);

        public static ReadOnlySpan<char> AsSpan(this string text, int start) => AsSpan(text).Slice(start);

        public static Span<T> AsSpan<T>(this T[] array) => new Span<T>(array);

        public static Span<T> AsSpan<T>(this T[] array, int start) => new Span<T>(array, start, array.Length - start);

        public static Span<T> AsSpan<T>(this T[] array, int start, int length) => new Span<T>(array, start, length);

        public static bool SequenceEqual<T>(this ReadOnlySpan<T> span, ReadOnlySpan<T> other) where T : IEquatable<T>
        {
            if (span.Length != other.Length) return false;
            for (int i = 0; i < span.Length; i++)
            {
                if (!span[i].Equals(other[i])) return false;
            }
            return true;
        }

        public static bool SequenceEqual<T>(this Span<T> span, ReadOnlySpan<T> other) where T : IEquatable<T> =>
            SequenceEqual((ReadOnlySpan<T>)span, other);

        public static int IndexOf<T>(this ReadOnlySpan<T> span, T value) where T : IEquatable<T>
        {
            for (int i = 0; i < span.Length; i++)
            {
                if (span[i].Equals(value)) return i;
            }
            return -1;
        }

        public static bool StartsWith<T>(this ReadOnlySpan<T> span, ReadOnlySpan<T> value) where T : IEquatable<T> =>
            value.Length <= span.Length && SequenceEqual(span.Slice(0, value.Length), value);
    }

    /// <summary>The layout every array shares: the element count, padding, then the first element.</summary>
    internal sealed class RawArrayData
    {
        public uint Length;
        public uint Padding;
        public byte Data;
    }
}

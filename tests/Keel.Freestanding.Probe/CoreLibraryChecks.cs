using System;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Threading;

namespace Keel.Freestanding.Probe
{
    /// <summary>What ILC's code needs from the core library: statics, casts, dispatch, strings, spans, atomics.</summary>
    internal static class CoreLibraryChecks
    {
        private static readonly string s_greeting = "hello";
        private static readonly int[] s_squares = Squares(5);
        private static int s_counter;
        private static long s_wide;

        internal static void Run()
        {
            Program.Check("static fields of reference type are initialised", s_greeting == "hello" && s_squares.Length == 5 && s_squares[4] == 16);
            Program.Check("a static constructor runs once, on first use", Lazy.Value == 42 && Lazy.Runs == 1 && Lazy.Value == 42 && Lazy.Runs == 1);
            Program.Check("string concatenation and integer formatting", string.Concat("x=", 42.ToString(), ",", (-7L).ToString()) == "x=42,-7");
            Program.Check("string equality compares characters", string.Concat("ab", "c") == "abc" && "abc" != "abd");

            object shape = new Square(3);
            Program.Check("class casts follow the base-class chain", shape is Shape && shape is Square && shape is not Circle);
            object text = "text";
            Program.Check("interface casts use the interface map", shape is IArea && (shape as IArea) != null && text is not IArea);
            IArea[] areas = new IArea[] { new Square(2), new Circle(1), new Triangle(4, 3) };
            int total = 0;
            for (int i = 0; i < areas.Length; i++) total += areas[i].Area();
            Program.Check("interface calls dispatch to each implementation", total == 4 + 3 + 6);
            object strings = new string[2];
            Program.Check("array covariance is checked on casts", strings is string[] && strings is object[] && strings is not int[]);

            var pair = new Pair<int, long>(3, 4);
            Program.Check("generic structs over value types", pair.Sum() == 7);
            Span<byte> bytes = stackalloc byte[8];
            BinaryPrimitives.WriteUInt32LittleEndian(bytes, 0xA1B2C3D4);
            Program.Check("spans and little-endian primitives", bytes[0] == 0xD4 && BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(2)) == 0xA1B2);
            Program.Check("interlocked operations", Interlocked.Increment(ref s_counter) == 1 && Interlocked.CompareExchange(ref s_counter, 5, 1) == 1 && s_counter == 5);
            Program.Check("64-bit interlocked operations", Interlocked.CompareExchange(ref s_wide, 1L << 40, 0) == 0 &&
                Interlocked.Exchange(ref s_wide, 7) == 1L << 40 && Interlocked.Add(ref s_wide, 3) == 10 && Interlocked.CompareExchange(ref s_wide, 0, 9) == 10);
            Func<int, int> twice = x => x * 2;
            int captured = 10;
            Func<int> closure = () => captured + 1;
            Program.Check("delegates and closures", twice(21) == 42 && closure() == 11);
            Program.Check("boxing and unboxing", (int)(object)123 == 123 && ((object)5).Equals(5));
            Program.Check("copies of every length up to 100 land whole, forwards and backwards over an overlap", Copies());
            Program.Check("stack buffers of every length up to 100 start zeroed", ZeroedStack());
        }

        // Span.CopyTo is the core library's memmove: every length from 0 to 100 at every shift from -40 to 40
        // within one buffer, against a copy made byte by byte first.
        private static bool Copies()
        {
            byte[] buffer = new byte[256], expected = new byte[256];
            for (int length = 0; length <= 100; length++)
            {
                for (int shift = -40; shift <= 40; shift++)
                {
                    for (int i = 0; i < buffer.Length; i++) buffer[i] = (byte)(i * 7 + length);
                    int from = 60, to = 60 + shift;
                    for (int i = 0; i < buffer.Length; i++) expected[i] = buffer[i];
                    for (int i = 0; i < length; i++) expected[to + i] = buffer[from + i];
                    new Span<byte>(buffer, from, length).CopyTo(new Span<byte>(buffer, to, length));
                    for (int i = 0; i < buffer.Length; i++) if (buffer[i] != expected[i]) return false;
                }
            }
            return true;
        }

        // A variable-length stackalloc is cleared by the block-clear helper (SpanHelpers.Fill); the same frame
        // is dirtied first, so a short or long clear shows.
        private static bool ZeroedStack()
        {
            for (int length = 0; length <= 100; length++)
            {
                Dirty(length);
                if (!Zeroed(length)) return false;
            }
            return true;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void Dirty(int length)
        {
            Span<byte> bytes = stackalloc byte[length];
            for (int i = 0; i < length; i++) bytes[i] = 0xA5;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static bool Zeroed(int length)
        {
            Span<byte> bytes = stackalloc byte[length];
            for (int i = 0; i < length; i++) if (bytes[i] != 0) return false;
            return true;
        }

        private static int[] Squares(int n)
        {
            var result = new int[n];
            for (int i = 0; i < n; i++) result[i] = i * i;
            return result;
        }

        private static class Lazy
        {
            internal static readonly int Value;
            internal static int Runs;

            static Lazy()
            {
                Runs++;
                Value = 40 + Runs * 2;
            }
        }

        private interface IArea
        {
            int Area();
        }

        private abstract class Shape : IArea
        {
            public abstract int Area();
        }

        private sealed class Square(int side) : Shape
        {
            public override int Area() => side * side;
        }

        private sealed class Circle(int radius) : Shape
        {
            public override int Area() => 3 * radius * radius;
        }

        private sealed class Triangle(int width, int height) : IArea
        {
            public int Area() => width * height / 2;
        }

        private readonly struct Pair<TFirst, TSecond>(TFirst first, TSecond second)
            where TFirst : struct
            where TSecond : struct
        {
            public long Sum() => Convert(first) + Convert(second);

            private static long Convert<T>(T value) => value is int i ? i : value is long l ? l : 0;
        }
    }
}

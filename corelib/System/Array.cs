using System.Runtime.CompilerServices;

namespace System
{
    /// <summary>Single-dimensional zero-based arrays: the length, padding, then the elements.</summary>
    public abstract class Array
    {
        // Referenced by ILC's array layout: the element count precedes the data.
        private readonly int _numComponents;

        public int Length => _numComponents;

        public static T[] Empty<T>() => EmptyArray<T>.Value;

        public static void Resize<T>(ref T[] array, int newSize)
        {
            T[] larger = new T[newSize];
            if (array != null)
            {
                new ReadOnlySpan<T>(array, 0, Math.Min(array.Length, newSize)).CopyTo(larger);
            }
            array = larger;
        }

        private static class EmptyArray<T>
        {
            internal static readonly T[] Value = new T[0];
        }
    }

    // ILC's type system names this type as the base of T[]: generic interfaces of arrays hang off it.
    public class Array<T> : Array
    {
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace System
{
    public abstract class ValueType
    {
    }

    public abstract class Enum : ValueType
    {
    }

    public struct Void
    {
    }

    public unsafe readonly struct IntPtr
    {
        private readonly void* _value;

        public static readonly IntPtr Zero;

        public IntPtr(int value) { _value = (void*)value; }
        public IntPtr(long value) { _value = (void*)value; }
        public IntPtr(void* value) { _value = value; }

        public static int Size => sizeof(nint);
        public void* ToPointer() => _value;
        public long ToInt64() => (long)_value;
        public override int GetHashCode() => (int)(long)_value;
        public override bool Equals(object obj) => obj is nint other && other == (nint)_value;
        public override string ToString() => Number.FormatInt64((long)_value);
    }

    public unsafe readonly struct UIntPtr
    {
        private readonly void* _value;

        public static readonly UIntPtr Zero;

        public UIntPtr(uint value) { _value = (void*)value; }
        public UIntPtr(ulong value) { _value = (void*)value; }
        public UIntPtr(void* value) { _value = value; }

        public static int Size => sizeof(nuint);
        public void* ToPointer() => _value;
        public ulong ToUInt64() => (ulong)_value;
        public override int GetHashCode() => (int)(ulong)_value;
        public override bool Equals(object obj) => obj is nuint other && other == (nuint)_value;
        public override string ToString() => Number.FormatUInt64((ulong)_value);
    }

    public struct RuntimeTypeHandle
    {
        internal IntPtr _value;
    }

    public struct RuntimeMethodHandle
    {
        internal IntPtr _value;
    }

    public struct RuntimeFieldHandle
    {
        internal IntPtr _value;
    }

    /// <summary>Type objects exist only as the compiler's handles here: there is no reflection, so asking
    /// for one (typeof) is reported rather than answered with a wrong value.</summary>
    public abstract class Type
    {
        public static Type GetTypeFromHandle(RuntimeTypeHandle handle) =>
            throw new NotSupportedException("Type objects need reflection, which this core library does not have.");
    }

    internal sealed class RuntimeType : Type
    {
    }

    public abstract class Attribute
    {
    }

    [AttributeUsage(AttributeTargets.Class, Inherited = true)]
    public sealed class AttributeUsageAttribute : Attribute
    {
        public AttributeUsageAttribute(AttributeTargets validOn) { ValidOn = validOn; }
        public AttributeTargets ValidOn { get; }
        public bool AllowMultiple { get; set; }
        public bool Inherited { get; set; }
    }

    [Flags]
    public enum AttributeTargets
    {
        Assembly = 0x0001,
        Module = 0x0002,
        Class = 0x0004,
        Struct = 0x0008,
        Enum = 0x0010,
        Constructor = 0x0020,
        Method = 0x0040,
        Property = 0x0080,
        Field = 0x0100,
        Event = 0x0200,
        Interface = 0x0400,
        Parameter = 0x0800,
        Delegate = 0x1000,
        ReturnValue = 0x2000,
        GenericParameter = 0x4000,
        All = 0x7FFF,
    }

    [AttributeUsage(AttributeTargets.Enum)]
    public sealed class FlagsAttribute : Attribute
    {
    }

    [AttributeUsage(AttributeTargets.Parameter)]
    public sealed class ParamArrayAttribute : Attribute
    {
    }

    [AttributeUsage(AttributeTargets.All)]
    public sealed class ObsoleteAttribute : Attribute
    {
        public ObsoleteAttribute() { }
        public ObsoleteAttribute(string message) { }
    }

    [AttributeUsage(AttributeTargets.Field)]
    public sealed class ThreadStaticAttribute : Attribute
    {
    }

    [AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Enum | AttributeTargets.Delegate)]
    public sealed class SerializableAttribute : Attribute
    {
    }

    [AttributeUsage(AttributeTargets.All)]
    public sealed class CLSCompliantAttribute : Attribute
    {
        public CLSCompliantAttribute(bool isCompliant) { }
    }

    public interface IDisposable
    {
        void Dispose();
    }

    public interface IEquatable<T>
    {
        bool Equals(T other);
    }

    public interface IComparable<in T>
    {
        int CompareTo(T other);
    }

    public struct Nullable<T> where T : struct
    {
        private readonly bool hasValue;
        internal T value;

        public Nullable(T value)
        {
            this.value = value;
            hasValue = true;
        }

        public readonly bool HasValue => hasValue;

        public readonly T Value
        {
            get
            {
                if (!hasValue) ThrowHelper.ThrowInvalidOperationException("Nullable object must have a value.");
                return value;
            }
        }

        public readonly T GetValueOrDefault() => value;

        public static implicit operator T?(T value) => new T?(value);

        public static explicit operator T(T? value) => value.Value;
    }

    public abstract class Delegate
    {
        // The field names and meanings are the ones ILC's delegate construction code writes.
        internal object _firstParameter;
        internal object _helperObject;
        internal nint _extraFunctionPointerOrData;
        internal IntPtr _functionPointer;

        private void InitializeClosedInstance(object firstParameter, IntPtr functionPointer)
        {
            _functionPointer = functionPointer;
            _firstParameter = firstParameter;
        }

        private void InitializeClosedInstanceSlow(object firstParameter, IntPtr functionPointer)
        {
            _functionPointer = functionPointer;
            _firstParameter = firstParameter;
        }

        private void InitializeClosedInstanceWithGVMResolution(object firstParameter, RuntimeMethodHandle tokenOfGenericVirtualMethod)
        {
            ThrowHelper.ThrowNotSupportedException("generic virtual methods");
        }

        private void InitializeClosedInstanceToInterface(object firstParameter, IntPtr dispatchCell)
        {
            ThrowHelper.ThrowNotSupportedException("delegates to interface methods");
        }

        private void InitializeOpenStaticThunk(object firstParameter, IntPtr functionPointer, IntPtr functionPointerThunk)
        {
            // Open static delegates call through a thunk that drops the 'this' (the delegate) argument.
            _firstParameter = this;
            _functionPointer = functionPointerThunk;
            _extraFunctionPointerOrData = functionPointer;
        }

        private void InitializeReversePInvokeThunk(object firstParameter, IntPtr functionPointer, IntPtr functionPointerThunk)
        {
            ThrowHelper.ThrowNotSupportedException("reverse P/Invoke delegates");
        }

        private void InitializeClosedStaticThunk(object firstParameter, IntPtr functionPointer, IntPtr functionPointerThunk)
        {
            _extraFunctionPointerOrData = functionPointer;
            _helperObject = firstParameter;
            _functionPointer = functionPointerThunk;
            _firstParameter = this;
        }
    }

    public abstract class MulticastDelegate : Delegate
    {
        internal object[] m_helperObject;
    }

    public delegate void Action();
    public delegate void Action<in T>(T obj);
    public delegate void Action<in T1, in T2>(T1 arg1, T2 arg2);
    public delegate TResult Func<out TResult>();
    public delegate TResult Func<in T, out TResult>(T arg);
    public delegate TResult Func<in T1, in T2, out TResult>(T1 arg1, T2 arg2);

    public static class Math
    {
        public static int Min(int a, int b) => a < b ? a : b;
        public static uint Min(uint a, uint b) => a < b ? a : b;
        public static long Min(long a, long b) => a < b ? a : b;
        public static ulong Min(ulong a, ulong b) => a < b ? a : b;
        public static int Max(int a, int b) => a > b ? a : b;
        public static uint Max(uint a, uint b) => a > b ? a : b;
        public static long Max(long a, long b) => a > b ? a : b;
        public static ulong Max(ulong a, ulong b) => a > b ? a : b;
        public static int Abs(int value) => value < 0 ? -value : value;
        public static long Abs(long value) => value < 0 ? -value : value;

        /// <summary>The 128-bit product of a and b: the high half returned, the low half in low.</summary>
        public static ulong BigMul(ulong a, ulong b, out ulong low)
        {
            ulong aLow = (uint)a, aHigh = a >> 32, bLow = (uint)b, bHigh = b >> 32;
            ulong lowLow = aLow * bLow, highLow = aHigh * bLow, lowHigh = aLow * bHigh;
            ulong middle = (lowLow >> 32) + (uint)highLow + (uint)lowHigh;
            low = (middle << 32) | (uint)lowLow;
            return aHigh * bHigh + (highLow >> 32) + (lowHigh >> 32) + (middle >> 32);
        }

        // Checked floating-point to integer conversions the JIT calls for conv.ovf on doubles. NaN and
        // out-of-range values overflow (ECMA-335 III.3.19).
        internal static int ConvertToInt32Checked(double value)
        {
            if (!(value > -2147483649.0 && value < 2147483648.0)) throw new OverflowException();
            return (int)value;
        }

        internal static uint ConvertToUInt32Checked(double value)
        {
            if (!(value > -1.0 && value < 4294967296.0)) throw new OverflowException();
            return (uint)value;
        }

        internal static long ConvertToInt64Checked(double value)
        {
            if (!(value >= -9223372036854775808.0 && value < 9223372036854775808.0)) throw new OverflowException();
            return (long)value;
        }

        internal static ulong ConvertToUInt64Checked(double value)
        {
            if (!(value > -1.0 && value < 18446744073709551616.0)) throw new OverflowException();
            return (ulong)value;
        }
    }
}

using System;
using System.Runtime;
using System.Runtime.CompilerServices;
using Internal.Runtime;

namespace Internal.Runtime
{
    /// <summary>The allocation and boxing helpers ILC's generated code calls by symbol name.</summary>
    internal static unsafe class AllocationHelpers
    {
        [RuntimeExport("RhpNewFast")]
        private static object NewFast(MethodTable* type) => Heap.AllocateObject(type);

        // Finalizers never run (there is no collector), so a finalizable object is an ordinary one.
        [RuntimeExport("RhpNewFinalizable")]
        private static object NewFinalizable(MethodTable* type) => Heap.AllocateObject(type);

        [RuntimeExport("RhpNewArrayFast")]
        private static object NewArrayFast(MethodTable* type, int length) => Heap.AllocateArrayLike(type, (uint)length);

        [RuntimeExport("RhpNewPtrArrayFast")]
        private static object NewPtrArrayFast(MethodTable* type, int length) => Heap.AllocateArrayLike(type, (uint)length);

        [RuntimeExport("RhpNewArray")]
        private static object NewArray(MethodTable* type, int length) => Heap.AllocateArrayLike(type, (uint)length);

        // Interlocked operations on object references compile to these helpers.
        [RuntimeExport("RhpCheckedLockCmpXchg")]
        private static object CheckedLockCmpXchg(ref object location, object value, object comparand)
        {
            ref nint slot = ref Unsafe.As<object, nint>(ref location);
            nint witnessed = (nint)System.Threading.Interlocked.CompareExchange(ref Unsafe.As<nint, long>(ref slot), ToRaw(value), ToRaw(comparand));
            return Unsafe.As<nint, object>(ref witnessed);
        }

        [RuntimeExport("RhpCheckedXchg")]
        private static object CheckedXchg(ref object location, object value)
        {
            ref nint slot = ref Unsafe.As<object, nint>(ref location);
            nint previous = (nint)System.Threading.Interlocked.Exchange(ref Unsafe.As<nint, long>(ref slot), ToRaw(value));
            return Unsafe.As<nint, object>(ref previous);
        }

        private static long ToRaw(object o) => (long)Unsafe.As<object, nint>(ref o);
    }

    /// <summary>An object seen as its first data byte.</summary>
    internal sealed class RawObject
    {
        public byte Data;
    }
}

namespace System.Runtime
{
    /// <summary>
    /// Helpers ILC binds by name in this class (allocation by type, boxing, unboxing). Boxed values lay out
    /// their payload right after the MethodTable pointer (MethodTable.FieldBytes long).
    /// </summary>
    internal static unsafe class RuntimeExports
    {
        [RuntimeExport("RhNewObject")]
        public static object RhNewObject(MethodTable* type) => Heap.AllocateObject(type);

        [RuntimeExport("RhNewArray")]
        public static object RhNewArray(MethodTable* type, int length) => Heap.AllocateArrayLike(type, (uint)length);

        [RuntimeExport("RhBox")]
        public static object RhBox(MethodTable* type, ref byte data)
        {
            object result = Heap.AllocateObject(type);
            SpanHelpers.Memmove(ref Unsafe.As<RawObject>(result).Data, ref data, type->FieldBytes);
            return result;
        }

        [RuntimeExport("RhBoxAny")]
        public static object RhBoxAny(ref byte data, MethodTable* type) => RhBox(type, ref data);

        [RuntimeExport("RhUnbox2")]
        public static ref byte RhUnbox2(MethodTable* type, object obj)
        {
            if (obj is null || obj.m_pEEType != type) TypeCast.ThrowInvalidCast();
            return ref Unsafe.As<RawObject>(obj).Data;
        }

        [RuntimeExport("RhUnboxAny")]
        public static void RhUnboxAny(object obj, ref byte data, MethodTable* type)
        {
            if (obj is null || obj.m_pEEType != type) TypeCast.ThrowInvalidCast();
            SpanHelpers.Memmove(ref data, ref Unsafe.As<RawObject>(obj).Data, type->FieldBytes);
        }

        // Nullable<T> boxing rules need the value's offset inside Nullable<T>, which this runtime does not
        // read from the MethodTable yet: such an unbox is reported, never guessed.
        [RuntimeExport("RhUnboxNullable")]
        public static void RhUnboxNullable(ref byte data, MethodTable* nullableType, object obj) =>
            throw new NotSupportedException("Unboxing to Nullable<T> is not supported.");
    }
}

using System;
using System.Runtime;
using System.Runtime.CompilerServices;

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

        [RuntimeExport("RhNewObject")]
        private static object NewObject(MethodTable* type) => Heap.AllocateObject(type);

        [RuntimeExport("RhNewArray")]
        private static object NewArrayExport(MethodTable* type, int length) => Heap.AllocateArrayLike(type, (uint)length);

        [RuntimeExport("RhBox")]
        private static object Box(MethodTable* type, ref byte data)
        {
            object result = Heap.AllocateObject(type);
            // A boxed value's payload starts right after the MethodTable pointer; its size is the base size
            // less the header and the MethodTable pointer.
            uint payload = type->BaseSize - 2 * (uint)sizeof(nint);
            SpanHelpers.Memmove(ref Unsafe.As<RawObject>(result).Data, ref data, payload);
            return result;
        }

        [RuntimeExport("RhUnbox2")]
        private static ref byte Unbox(MethodTable* type, object obj)
        {
            if (obj is null || obj.m_pEEType != type) TypeCast.ThrowInvalidCast();
            return ref Unsafe.As<RawObject>(obj).Data;
        }

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
